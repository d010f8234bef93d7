"""Argument checks the tensor models share, each as the real function checks it.

Every check records why torch would refuse the argument (INVALID, in torch's words) or
that torchvet cannot tell (UNVERIFIED), and returns None in both cases.
"""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.tensorinfo import (
    PARAMETER,
    TENSOR,
    TensorInfo,
    ViewProblem,
    check_view,
    set_strides,
    tensor_info,
    view_nbytes,
)
from torchvet.pickle.torchfacts import DType
from torchvet.pickle.values import Call, Value, bool_of, int_of, ints_of, is_shape_like


def argc(fx: Effects, call: Call, lo: int, hi: int) -> bool:
    """The call passes from ``lo`` to ``hi`` positional arguments."""
    n = len(call.args)
    if lo <= n <= hi:
        return True
    fname = (call.target or "function").rsplit(".", 1)[-1]
    want = f"{lo}" if lo == hi else f"from {lo} to {hi}"
    fx.invalid(
        f"{call.target} at offset {call.pos} called with {n} arguments (takes {want})",
        f"TypeError: {fname}() takes {want} positional arguments but {n} were given",
    )
    return False


def ints(fx: Effects, v: Value) -> tuple[int, ...] | None:
    """A list / tuple / torch.Size of exact ints, charged for walking it."""
    if isinstance(v, (values.TupleValue, values.ListValue)):
        fx.copying(len(v.items))
    return ints_of(v)


def shown(seq: tuple[int, ...]) -> str:
    """A shape for a message: a file may pass a 100k-entry shape to every call."""
    return str(seq) if len(seq) <= 8 else f"({', '.join(map(str, seq[:8]))}, ... {len(seq)} dims)"


def tensor(call: Call, info: TensorInfo | None, pytype: str = TENSOR) -> values.Instance:
    """What a rebuild returns (``info`` None: a tensor torchvet could not model)."""
    return values.Instance(call.pos, pytype, call, hashable=True, info=info)


def storage_arg(fx: Effects, call: Call, v: Value) -> values.Storage | None:
    if isinstance(v, values.Storage):
        return v
    if not isinstance(v, values.Opaque):  # Opaque: the persistent id was already reported
        fx.unverified(call, f"storage argument is {v.describe()}, not a storage")
    return None


def storage_dtype(fx: Effects, v: Value) -> DType | None:
    return fx.facts.dtypes.get(v.dtype) if isinstance(v, values.Storage) else None


def dtype_arg(fx: Effects, call: Call, v: Value) -> DType | None:
    if isinstance(v, values.GlobalName) and v.qualname in fx.facts.dtypes:
        return fx.facts.dtypes[v.qualname]
    fx.unverified(call, f"dtype argument is {v.describe()}")
    return None


def tensor_arg(fx: Effects, call: Call, v: Value, what: str) -> TensorInfo | None:
    info = tensor_info(v)
    if info is None and not (isinstance(v, values.Instance) and v.pytype in (TENSOR, PARAMETER)):
        fx.unverified(call, f"{what} is {v.describe()}, not a tensor torchvet rebuilt")
    return info


def requires_grad(fx: Effects, call: Call, v: Value, dtype: DType | None) -> bool | None:
    rg = bool_of(v)
    if rg is None:
        fx.invalid(
            f"requires_grad at offset {call.pos} is {v.describe()}, not a bool",
            "requires_grad must be a bool",
        )
        return None
    if rg and dtype is not None and not dtype.can_require_grad:
        fx.invalid(
            f"tensor at offset {call.pos} of dtype {dtype.name} requires grad",
            "only Tensors of floating point and complex dtype can require gradients",
        )
        return None
    return rg


View = tuple[int, tuple[int, ...], tuple[int, ...]]  # storage offset, size, stride


def view(
    fx: Effects,
    call: Call,
    storage: values.Storage,
    itemsize: int,
    args: tuple[Value, ...],
) -> View | None:
    """Emulate ``Tensor.set_(storage, offset, size, stride)`` (``args``) on a storage
    that cannot grow."""
    offset_v, size_v, stride_v = args
    offset, size, stride = int_of(offset_v), ints(fx, size_v), ints(fx, stride_v)
    if offset is None or size is None or stride is None:
        bad = not (is_shape_like(size_v) and is_shape_like(stride_v))
        if bad or isinstance(offset_v, values.Const):
            fx.invalid(
                f"tensor at offset {call.pos} has a storage offset, size or stride that is "
                "not made of integers",
                "TypeError: set_() received an invalid combination of arguments",
            )
        else:
            fx.unverified(call, "size or stride contains values torchvet cannot read")
        return None
    problem = check_view(offset, size, stride, itemsize, storage.nbytes)
    if problem is ViewProblem.EMPTY_NEGATIVE:
        fx.unverified(call, "an empty tensor with a negative size")
        return None
    if problem is not None:
        where = f"tensor at offset {call.pos}"
        fx.invalid(*_refusal(problem, where, storage, itemsize, (offset, size, stride)))
        return None
    return offset, size, set_strides(size, stride)


# (torchvet's message, torch's) for each view ``set_`` refuses.
_REFUSALS = {
    ViewProblem.LENGTHS: (
        "{where} has {nsize} sizes but {nstride} strides",
        "unequal size length ({nsize}) and stride length ({nstride})",
    ),
    ViewProblem.INT64: (
        "{where} has a value beyond int64",
        "TypeError: Overflow when unpacking long",
    ),
    ViewProblem.OFFSET: (
        "{where} has negative storage offset {offset}",
        "Tensor: invalid storage offset {offset}",
    ),
    ViewProblem.STRIDE_CALC: (
        "{where} has strides {stride} whose computed values overflow int64",
        "Stride calculation overflowed",
    ),
    ViewProblem.SIZE: (
        "{where} has a negative size {size}",
        "numel: integer multiplication overflow",
    ),
    ViewProblem.NUMEL: (
        "{where} has more than 2**63 elements",
        "numel: integer multiplication overflow",
    ),
    ViewProblem.STRIDE: (
        "{where} has a negative stride {stride}",
        "Storage size calculation overflowed",
    ),
    ViewProblem.SPAN: (
        "{where} spans more than 2**63 bytes",
        "Storage size calculation overflowed",
    ),
    ViewProblem.BOUNDS: (
        "{where} reads {needed} bytes of storage {key}, which has {nbytes}",
        "Trying to resize storage that is not resizable",
    ),
}


def _refusal(
    problem: ViewProblem, where: str, storage: values.Storage, itemsize: int, v: View
) -> tuple[str, str]:
    offset, size, stride = v
    fields: dict[str, object] = {"where": where, "nsize": len(size), "nstride": len(stride)}
    if problem not in (ViewProblem.LENGTHS, ViewProblem.INT64):  # each value fits int64
        fields.update(offset=offset, size=shown(size), stride=shown(stride))
        fields.update(key=repr(storage.key), nbytes=storage.nbytes)
        fields["needed"] = view_nbytes(offset, size, set_strides(size, stride), itemsize)
    ours, torch = _REFUSALS[problem]
    return ours.format(**fields), torch.format(**fields)
