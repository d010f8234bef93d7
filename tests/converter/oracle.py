"""The torch side of the bit-for-bit checks: name real tensors the way convert does."""

from __future__ import annotations

from typing import Any


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Every tensor reachable through dicts, lists, tuples and modules, keyed by the
    dotted names torchvet convert gives them."""
    import torch

    out: dict[str, Any] = {}

    def join(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif _numeric_array(obj):  # numpy arrays are converted as the tensors they hold
        out[prefix] = torch.from_numpy(obj.astype(obj.dtype.newbyteorder("=")))
    elif isinstance(obj, torch.nn.Module):
        for name, t in obj.state_dict(keep_vars=True).items():
            out[join(name)] = t
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out.update(flatten(v, join(k if isinstance(k, str) else str(k))))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(flatten(v, join(str(i))))
    return out


def _numeric_array(obj: Any) -> bool:
    import sys

    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray) and obj.dtype.kind in "biufc"


def raw_bytes(t: Any) -> Any:
    """The values a tensor shows (conj/neg resolved) as a flat uint8 tensor."""
    import torch

    t = t.detach()
    if t.is_conj():
        t = t.resolve_conj()
    if t.is_neg():
        t = t.resolve_neg()
    return t.contiguous().reshape(-1).view(torch.uint8)


def same(a: Any, b: Any) -> bool:
    """Bit-for-bit equality, same dtype and shape."""
    import torch

    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(raw_bytes(a), raw_bytes(b))
