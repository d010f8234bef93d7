"""Quantized tensors: ``torch._utils._rebuild_qtensor(storage, offset, size, stride,
quantizer_params, requires_grad, backward_hooks)``."""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models import checks
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model
from torchvet.pickle.tensorinfo import TensorInfo, product, tensor_info
from torchvet.pickle.values import Call, Value, int_of

_PER_CHANNEL = ("torch.per_channel_affine", "torch.per_channel_affine_float_qparams")


@model("torch._utils._rebuild_qtensor")
def rebuild_qtensor(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 7, 7):
        return checks.tensor(call, None)
    storage_v, offset, size, stride, qparams, rg_v, _hooks = call.args
    storage = checks.storage_arg(fx, call, storage_v)
    dtype = checks.storage_dtype(fx, storage) if storage is not None else None
    if storage is None or dtype is None:
        return checks.tensor(call, None)
    if not dtype.quantized:
        fx.invalid(
            f"quantized tensor at offset {call.pos} over a {dtype.name} storage",
            "RuntimeError: quantized tensor expects a quantized dtype",
        )
        return checks.tensor(call, None)
    if (
        not isinstance(qparams, values.TupleValue)
        or not qparams.items
        or not isinstance(qparams.items[0], values.GlobalName)
    ):
        fx.unverified(call, "quantizer parameters are not a (qscheme, ...) tuple")
        return checks.tensor(call, None)
    size_t = checks.ints(fx, size)
    if size_t is not None and (not size_t or min(size_t) >= 0):
        # _empty_affine_quantized(size) allocates before set_ checks the storage.
        fx.allocate(call, product(size_t) * dtype.itemsize, "a quantized tensor's buffer")
    parts = _quantizer(fx, call, qparams.items, size_t)
    if parts is None:
        return checks.tensor(call, None)
    checked = checks.view(fx, call, storage, dtype.itemsize, (offset, size, stride))
    if checked is None:
        return checks.tensor(call, None)
    rg = checks.requires_grad(fx, call, rg_v, dtype)
    if rg is None:
        return checks.tensor(call, None)
    o, sz, st = checked
    info = TensorInfo("quantized", dtype.name, sz, st, o, storage, rg, parts=parts)
    parts["qscheme"] = qparams.items[0]
    return checks.tensor(call, info)


def _quantizer(
    fx: Effects, call: Call, qparams: tuple[Value, ...], size: tuple[int, ...] | None
) -> dict[str, Value] | None:
    """The quantizer's parts, as torch unpacks ``(qscheme, ...)`` for each scheme."""
    qscheme = qparams[0].qualname  # type: ignore[attr-defined]
    if qscheme == "torch.per_tensor_affine":
        return _per_tensor(fx, call, qparams)
    if qscheme in _PER_CHANNEL:
        return _per_channel(fx, call, qparams, size)
    fx.invalid(
        f"quantized tensor with qscheme {qscheme}",
        f"RuntimeError: Can't deserialize quantized tensor with qscheme {qscheme}",
    )
    return None


def _per_tensor(fx: Effects, call: Call, qparams: tuple[Value, ...]) -> dict[str, Value] | None:
    if len(qparams) != 3:
        fx.invalid(
            "per-tensor quantizer parameters need (qscheme, scale, zero_point)",
            "ValueError: too many values to unpack",
        )
        return None
    scale, zp = qparams[1:]
    if (
        not (isinstance(scale, values.Const) and type(scale.value) in (float, int))
        or int_of(zp) is None
    ):
        fx.unverified(call, "scale or zero point is not a number")
        return None
    return {"scale": scale, "zero_point": zp}


def _per_channel(
    fx: Effects, call: Call, qparams: tuple[Value, ...], size: tuple[int, ...] | None
) -> dict[str, Value] | None:
    if len(qparams) != 4:
        fx.invalid(
            "per-channel quantizer parameters need 4 items", "ValueError: too many values to unpack"
        )
        return None
    scales, zps, axis_v = qparams[1:]
    axis = int_of(axis_v)
    s_info, z_info = tensor_info(scales), tensor_info(zps)
    if axis is None or size is None or s_info is None or z_info is None:
        fx.unverified(call, "per-channel scales, zero points or axis are not modelled")
        return None
    if not 0 <= axis < len(size):
        fx.invalid(
            f"per-channel axis {axis} out of range",
            f"ValueError: _rebuild_qtensor: per_channel axis {axis} out of range",
        )
        return None
    expected = size[axis]
    if s_info.numel != expected or z_info.numel != expected:
        fx.invalid(
            "per-channel scales/zero_points length differs from size[axis]",
            "ValueError: _rebuild_qtensor: per_channel scales/zero_points length "
            "must equal size[axis]",
        )
        return None
    if len(s_info.shape) != 1 or len(z_info.shape) != 1:
        fx.unverified(call, "per-channel scales or zero points are not 1-D")
        return None
    return {"scales": scales, "zero_points": zps, "axis": axis_v}
