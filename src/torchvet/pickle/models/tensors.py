"""Dense tensor rebuilds (``torch._utils._rebuild_tensor*``), meta tensors, device tensors
rebuilt from a CPU copy, and the metadata dict torch applies to them.

These are the callables torch's weights-only unpickler allows, so their arguments are
checked the way the real functions check them: "torch accepts this file" depends on it.
"""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models import checks
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model
from torchvet.pickle.tensorinfo import INT64_MAX, TensorInfo, product
from torchvet.pickle.torchfacts import DType
from torchvet.pickle.values import Call, Value, bool_of, is_falsy, str_of

_U = "torch._utils."
# The dict types torch accepts as a tensor's metadata.
_METADATA_TYPES = ("builtins.dict", "collections.OrderedDict", "collections.Counter")


def _dense(
    fx: Effects,
    call: Call,
    storage_v: Value,
    dtype: DType | None,
    args: tuple[Value, ...],
) -> TensorInfo | None:
    storage = checks.storage_arg(fx, call, storage_v)
    if storage is None or dtype is None:
        return None
    checked = checks.view(fx, call, storage, dtype.itemsize, args)
    if checked is None:
        return None
    offset, size, stride = checked
    return TensorInfo("dense", dtype.name, size, stride, offset, storage)


@model(_U + "_rebuild_tensor")
def rebuild_tensor_v1(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return checks.tensor(call, None)
    storage = call.args[0]
    return checks.tensor(
        call, _dense(fx, call, storage, checks.storage_dtype(fx, storage), call.args[1:4])
    )


@model(_U + "_rebuild_tensor_v2")
def rebuild_tensor_v2(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 6, 7):
        return checks.tensor(call, None)
    a = call.args
    dtype = checks.storage_dtype(fx, a[0])
    info = _dense(fx, call, a[0], dtype, a[1:4])
    return checks.tensor(call, _finish_dense(fx, call, info, dtype, a[4], a[6:7]))


@model(_U + "_rebuild_tensor_v3")
def rebuild_tensor_v3(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 7, 8):
        return checks.tensor(call, None)
    a = call.args
    dtype = checks.dtype_arg(fx, call, a[6])
    info = _dense(fx, call, a[0], dtype, a[1:4])
    return checks.tensor(call, _finish_dense(fx, call, info, dtype, a[4], a[7:8]))


def _finish_dense(
    fx: Effects,
    call: Call,
    info: TensorInfo | None,
    dtype: DType | None,
    requires_grad_v: Value,
    metadata: tuple[Value, ...],
) -> TensorInfo | None:
    """requires_grad and the optional metadata dict of _rebuild_tensor_v2/v3."""
    if info is None or dtype is None:
        return None
    rg = checks.requires_grad(fx, call, requires_grad_v, dtype)
    if rg is None:
        return None
    info.requires_grad = rg
    if metadata and not _metadata(fx, call, metadata[0], dtype, info):
        return None
    return info


def _metadata(fx: Effects, call: Call, v: Value, dtype: DType, info: TensorInfo) -> bool:
    """``torch._utils._set_tensor_metadata``: the conj and neg bits."""
    falsy = is_falsy(v)
    if falsy:
        return True
    if not isinstance(v, values.DictValue) or v.pytype not in _METADATA_TYPES:
        if falsy is None:
            fx.unverified(call, f"tensor metadata is {v.describe()}")
        else:
            fx.invalid(
                f"tensor metadata at offset {call.pos} is not a dict",
                "AssertionError: expected dict",
            )
        return False
    fx.copying(len(v.items))
    for k, val in v.items:
        key = str_of(k)
        flag = bool_of(val)
        if key is None or flag is None:
            fx.unverified(call, "tensor metadata holds non-bool or non-str entries")
            return False
        if key == "conj":
            if not dtype.complex:
                if flag:
                    fx.invalid(
                        f"conj bit on non-complex tensor at offset {call.pos}",
                        "isComplexType(...) INTERNAL ASSERT FAILED",
                    )
                else:
                    fx.unverified(call, "conj metadata on a non-complex tensor")
                return False
            info.conj = flag
        elif key == "neg":
            info.neg = True  # torch sets the bit when the key is present
    return True


@model(_U + "_rebuild_meta_tensor_no_storage")
def rebuild_meta(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return checks.tensor(call, None)
    dtype_v, size_v, stride_v, rg_v = call.args
    dtype = checks.dtype_arg(fx, call, dtype_v)
    size, stride = checks.ints(fx, size_v), checks.ints(fx, stride_v)
    if dtype is None or size is None or stride is None:
        if dtype is not None:
            fx.unverified(call, "meta tensor size or stride not made of ints")
        return checks.tensor(call, None)
    if dtype.quantized:
        fx.unverified(call, "quantized meta tensor")
        return checks.tensor(call, None)
    if (
        len(size) != len(stride)
        or any(s < 0 for s in size)
        or any(s < 0 for s in stride)
        or any(x > INT64_MAX for x in (*size, *stride))
    ):
        fx.invalid(
            f"meta tensor at offset {call.pos} has an invalid size/stride",
            "RuntimeError: empty_strided: invalid size or stride",
        )
        return checks.tensor(call, None)
    if product(size) > INT64_MAX:
        fx.invalid(
            "meta tensor has more than 2**63 elements", "numel: integer multiplication overflow"
        )
        return checks.tensor(call, None)
    rg = checks.requires_grad(fx, call, rg_v, dtype)
    if rg is None:
        return checks.tensor(call, None)
    return checks.tensor(call, TensorInfo("meta", dtype.name, size, stride, 0, None, rg))


@model(_U + "_rebuild_device_tensor_from_cpu_tensor")
def rebuild_from_cpu(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return checks.tensor(call, None)
    data, dtype_v, _device, rg_v = call.args
    src = checks.tensor_arg(fx, call, data, "data")
    dtype = checks.dtype_arg(fx, call, dtype_v)
    if src is None or dtype is None:
        return checks.tensor(call, None)
    src_dtype = fx.facts.dtypes.get(src.dtype)
    if dtype.quantized or src_dtype is None or src_dtype.quantized or src.kind != "dense":
        fx.unverified(call, "device tensor conversion between these dtypes")
        return checks.tensor(call, None)
    rg = checks.requires_grad(fx, call, rg_v, dtype)
    if rg is None:
        return checks.tensor(call, None)
    if dtype.name != src.dtype:  # Tensor.to makes a converted copy
        fx.allocate(call, src.numel * dtype.itemsize, "a converted copy")
    info = TensorInfo(**{**src.__dict__, "kind": "from-cpu", "requires_grad": rg})
    info.parts = {"source": data, "dtype": dtype_v}
    info.dtype = dtype.name
    return checks.tensor(call, info)
