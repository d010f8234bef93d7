"""Sparse and nested tensors: ``_rebuild_sparse_tensor(layout, data)`` with the layout
from ``torch.serialization._get_layout(name)``, and ``_rebuild_nested_tensor``.

torch checks their components' shapes when it builds them (even with invariant checks
off); torchvet checks the same shapes, and defers what needs the components' contents."""

from __future__ import annotations

from torchvet.pickle import values
from torchvet.pickle.models import checks
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model
from torchvet.pickle.tensorinfo import TensorInfo, tensor_info
from torchvet.pickle.values import Call, Value, bool_of, str_of

_COMPRESSED = ("torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr", "torch.sparse_bsc")
_BLOCKED = ("torch.sparse_bsr", "torch.sparse_bsc")


@model("torch.serialization._get_layout")
def get_layout(fx: Effects, call: Call) -> Value:
    if checks.argc(fx, call, 1, 1):
        name = str_of(call.args[0])
        if name is not None and name in fx.facts.layouts:
            return values.Instance(call.pos, "torch.layout", call, hashable=True, info=name)
        if name is not None:
            fx.invalid(f"unknown layout {name!r}", f"KeyError: {name!r}")
        else:
            fx.unverified(call, "layout name is not a string")
    return values.Instance(call.pos, "torch.layout", call, hashable=True)


@model("torch._utils._rebuild_sparse_tensor")
def rebuild_sparse_tensor(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 2, 2):
        return checks.tensor(call, None)
    layout_v, data = call.args
    is_layout = isinstance(layout_v, values.Instance) and layout_v.pytype == "torch.layout"
    layout = layout_v.info if is_layout else None  # type: ignore[union-attr]
    if not isinstance(layout, str) or not isinstance(data, values.TupleValue):
        fx.unverified(call, "sparse layout or data not in torch.save's form")
        return checks.tensor(call, None)
    if layout == "torch.sparse_coo":
        return _sparse_coo(fx, call, data.items)
    if layout in _COMPRESSED:
        return _sparse_compressed(fx, call, layout, data.items)
    fx.invalid(
        f"sparse tensor with layout {layout}",
        f"NotImplementedError: rebuilding sparse tensor for layout {layout}",
    )
    return checks.tensor(call, None)


def _sparse_coo(fx: Effects, call: Call, items: tuple[Value, ...]) -> Value:
    if len(items) not in (3, 4):
        fx.invalid(
            "sparse COO data needs (indices, values, size[, is_coalesced])",
            "ValueError: not enough values to unpack",
        )
        return checks.tensor(call, None)
    ind, val = tensor_info(items[0]), tensor_info(items[1])
    size = checks.ints(fx, items[2])
    coalesced_ok = (
        len(items) == 3
        or bool_of(items[3]) is not None
        or (isinstance(items[3], values.Const) and items[3].value is None)
    )
    if ind is None or val is None or size is None or not coalesced_ok:
        fx.unverified(call, "sparse COO components not in torch.save's form")
        return checks.tensor(call, None)
    # Shapes torch.sparse_coo_tensor checks even with check_invariants=False.
    ok = (
        ind.dtype == "torch.int64"
        and len(ind.shape) == 2
        and len(val.shape) >= 1
        and ind.shape[1] == val.shape[0]
        and len(size) == ind.shape[0] + len(val.shape) - 1
        and tuple(size[ind.shape[0] :]) == tuple(val.shape[1:])
        and all(s >= 0 for s in size)
        and ind.kind == "dense"
        and val.kind == "dense"
    )
    if not ok:
        fx.unverified(call, "sparse COO shapes are not consistent in the way torchvet checks")
        return checks.tensor(call, None)
    parts = {"indices": items[0], "values": items[1]}
    return checks.tensor(
        call, TensorInfo("sparse", val.dtype, size, layout="torch.sparse_coo", parts=parts)
    )


def _sparse_compressed(fx: Effects, call: Call, layout: str, items: tuple[Value, ...]) -> Value:
    if len(items) != 4:
        fx.invalid(
            "sparse compressed data needs 4 items", "ValueError: not enough values to unpack"
        )
        return checks.tensor(call, None)
    comp, plain, val = (tensor_info(x) for x in items[:3])
    size = checks.ints(fx, items[3])
    if comp is None or plain is None or val is None or size is None:
        fx.unverified(call, "sparse compressed components not in torch.save's form")
        return checks.tensor(call, None)
    if not _compressed_shapes_ok(layout, comp, plain, val, size):
        fx.unverified(call, "sparse compressed shapes are not in the form torchvet checks")
        return checks.tensor(call, None)
    parts = {"compressed_indices": items[0], "plain_indices": items[1], "values": items[2]}
    return checks.tensor(call, TensorInfo("sparse", val.dtype, size, layout=layout, parts=parts))


def _compressed_shapes_ok(
    layout: str, comp: TensorInfo, plain: TensorInfo, val: TensorInfo, size: tuple[int, ...]
) -> bool:
    blocked = layout in _BLOCKED
    ok = (
        comp.dtype == plain.dtype
        and comp.dtype in ("torch.int64", "torch.int32")
        and len(comp.shape) == 1
        and len(plain.shape) == 1
        and len(size) == (2 + (len(val.shape) - 3) if blocked else 2 + len(val.shape) - 1)
        and val.shape[:1] == plain.shape[:1]
        and all(s >= 0 for s in size)
        and all(t.kind == "dense" for t in (comp, plain, val))
    )
    if not ok:
        return False
    compressed_dim = size[0] if layout in ("torch.sparse_csr", "torch.sparse_bsr") else size[1]
    if blocked:
        block = val.shape[1] if layout == "torch.sparse_bsr" else val.shape[2]
        ok = len(val.shape) == 3 and block > 0 and compressed_dim % block == 0
        compressed_dim = compressed_dim // block if ok else compressed_dim
    return ok and comp.shape[0] == compressed_dim + 1


@model("torch._utils._rebuild_nested_tensor")
def rebuild_nested_tensor(fx: Effects, call: Call) -> Value:
    if not checks.argc(fx, call, 4, 4):
        return checks.tensor(call, None)
    buf, sizes, strides, offsets = (tensor_info(x) for x in call.args)
    if buf is None or sizes is None or strides is None or offsets is None:
        fx.unverified(call, "nested tensor components are not tensors")
        return checks.tensor(call, None)
    meta_ok = (
        sizes.dtype == strides.dtype == offsets.dtype == "torch.int64"
        and len(sizes.shape) == 2
        and sizes.shape == strides.shape
        and len(offsets.shape) == 1
        and offsets.shape[0] == sizes.shape[0]
        and len(buf.shape) == 1
        and buf.kind == "dense"
        and all(t.kind == "dense" and t.storage is not None for t in (sizes, strides, offsets))
    )
    if not meta_ok:
        fx.unverified(call, "nested tensor components are not in torch.save's form")
        return checks.tensor(call, None)
    parts = dict(zip(("buffer", "sizes", "strides", "offsets"), call.args, strict=True))
    info = TensorInfo("nested", buf.dtype, (), parts=parts)
    # torch checks every component view against the buffer using the *contents* of
    # the sizes/strides/offsets tensors: the container reads them and settles it.
    fx.defer(call.pos, "nested", info)
    return checks.tensor(call, info)
