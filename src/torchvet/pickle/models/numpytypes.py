"""numpy's pickling helpers: dtypes, arrays, scalars and random generator state.

torch does not allowlist any of them; they are modelled for the runtime type BUILD
then sees (``numpy.dtype("f8")`` is a ``numpy.dtypes.Float64DType``), which decides
whether the file only needs those inert names allowlisted.
"""

from __future__ import annotations

from torchvet import numpy_dtypes
from torchvet.pickle import values
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.gadgets import target_name
from torchvet.pickle.models.registry import model
from torchvet.pickle.values import Call, Value, str_of

# numpy.random's pickling helpers and the types of what they return.
_RANDOM_CTORS = {
    "numpy.random._pickle.__randomstate_ctor": "numpy.random.mtrand.RandomState",
    "numpy.random._pickle.__generator_ctor": "numpy.random._generator.Generator",
}
_BIT_GENERATORS = {
    "MT19937": "numpy.random._mt19937.MT19937",
    "PCG64": "numpy.random._pcg64.PCG64",
    "PCG64DXSM": "numpy.random._pcg64.PCG64DXSM",
    "Philox": "numpy.random._philox.Philox",
    "SFC64": "numpy.random._sfc64.SFC64",
}
_CORES = ("numpy.core", "numpy._core")  # numpy 1.x and 2.x spellings


@model("numpy.dtype")
def dtype(fx: Effects, call: Call) -> Value:
    code = str_of(call.args[0]) if call.args else None
    cls = numpy_dtypes.dtype_class(code) if code is not None else None
    return values.Instance(call.pos, cls or "numpy.dtype", call, hashable=True, info=code)


@model(*(f"{core}.multiarray._reconstruct" for core in _CORES))
def reconstruct(fx: Effects, call: Call) -> Value:
    """``_reconstruct(subtype, shape, dtype)``: an array of ``subtype`` (numpy.ndarray)."""
    sub = call.args[0] if call.args else None
    return values.Instance(
        call.pos, target_name(sub) if sub is not None else None, call, hashable=False
    )


@model(*(f"{core}.multiarray.scalar" for core in _CORES))
def scalar(fx: Effects, call: Call) -> Value:
    """``scalar(dtype, bytes)``: a numpy scalar whose type follows the dtype."""
    dt = call.args[0] if call.args else None
    scalar_type = None
    if isinstance(dt, values.Instance) and dt.pytype and dt.pytype.startswith("numpy.dtypes."):
        scalar_type = numpy_dtypes.scalar_type(dt.pytype.rsplit(".", 1)[-1])
    return values.Instance(call.pos, scalar_type or "numpy.generic", call, hashable=True)


@model(*_RANDOM_CTORS)
def random_ctor(fx: Effects, call: Call) -> Value:
    """A RandomState or Generator: the type BUILD then sees."""
    return values.Instance(call.pos, _RANDOM_CTORS[call.target], call, hashable=False)  # type: ignore[index]


@model("numpy.random._pickle.__bit_generator_ctor")
def bit_generator(fx: Effects, call: Call) -> Value:
    """``__bit_generator_ctor(name_or_class)``: an instance of that BitGenerator."""
    arg = call.args[0] if call.args else values.Const(call.pos, "MT19937")
    if isinstance(arg, values.GlobalName):
        name = target_name(arg)
    else:
        name = _BIT_GENERATORS.get(str_of(arg))  # type: ignore[arg-type]
    return values.Instance(call.pos, name, call, hashable=False)
