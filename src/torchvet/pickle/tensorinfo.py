"""What a rebuilt tensor is, and the storage bounds torch checks for a strided view.

``TensorInfo`` is the payload the tensor models put on the ``Instance`` a rebuild call
returns; the converter plans its writes from it. ``check_view`` is the one emulation of
``Tensor.set_(storage, offset, size, stride)`` on a storage that cannot grow, shared by
the scanner's models (which say why torch refuses) and the converter (which rebuilds
views the scanner could not see).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from torchvet.pickle.values import Instance, Storage, Value

INT64_MAX = 2**63 - 1
TENSOR = "torch.Tensor"
PARAMETER = "torch.nn.parameter.Parameter"


@dataclass
class TensorInfo:
    """What a rebuilt tensor is, as far as the pickle tells."""

    kind: str  # dense, quantized, sparse, nested, meta, from-cpu
    dtype: str  # torch dtype name, e.g. "torch.float32"
    shape: tuple[int, ...]
    stride: tuple[int, ...] | None = None
    offset: int = 0
    storage: Storage | None = None
    requires_grad: bool = False
    conj: bool = False
    neg: bool = False
    layout: str = "torch.strided"
    parts: dict[str, Value] = field(default_factory=dict)  # sparse/nested/qparams components
    attributes: Value | None = None  # Python attributes set on the tensor/parameter

    @property
    def numel(self) -> int:
        return product(self.shape)


def tensor_info(v: Value) -> TensorInfo | None:
    """The tensor a value is, when a model rebuilt it."""
    if isinstance(v, Instance) and isinstance(v.info, TensorInfo):
        return v.info
    return None


def product(dims: tuple[int, ...]) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def fits_int64(values: tuple[int, ...]) -> bool:
    """Every value fits in a C int64 (what torch's argument parser accepts)."""
    return not values or (min(values) >= -INT64_MAX - 1 and max(values) <= INT64_MAX)


class ViewProblem(enum.Enum):
    """Why ``set_`` refuses a view, in the order torch checks."""

    LENGTHS = "size and stride differ in length"
    INT64 = "a value beyond int64"
    OFFSET = "a negative storage offset"
    STRIDE_CALC = "strides computed for it overflow int64"
    SIZE = "a negative size"
    NUMEL = "more than 2**63 elements"
    EMPTY_NEGATIVE = "an empty tensor with a negative size"  # built by torch; not modelled
    STRIDE = "a negative stride"
    SPAN = "a span beyond 2**63 bytes"
    BOUNDS = "a span beyond the storage"


_U64 = 2**64


def set_strides(size: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    """The strides ``set_`` gives the tensor. c10 reads a negative stride as "unset" and
    computes it from the next dimension's; an empty stride list means contiguous. (Values
    past int64 stand for torch's overflow error: ``check_view`` refuses those views.)"""
    given = stride if stride or not size else (-1,) * len(size)
    out = list(given)
    for i in reversed(range(len(out))):
        if out[i] < 0:
            out[i] = 1 if i == len(out) - 1 else out[i + 1] * max(size[i + 1], 1)
    return tuple(out)


def view_nbytes(offset: int, size: tuple[int, ...], stride: tuple[int, ...], itemsize: int) -> int:
    """Bytes of storage a non-empty view reaches (torch's ``computeStorageNbytes``)."""
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    return (last + 1) * itemsize


def _u64_numel(size: tuple[int, ...]) -> int | None:
    """c10's ``safe_compute_numel``: sizes as uint64, an overflow sticky past a zero;
    None when it fails."""
    n, overflow = 1, False
    for d in size:
        n *= d % _U64
        if n >= _U64:
            overflow, n = True, n % _U64
    return None if overflow or n > INT64_MAX else n


def _u64_span_overflows(offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    """``computeStorageNbytes``'s overflow test (before the item size): the given strides
    as uint64, so a negative stride on a dimension longer than one always fails."""
    acc, overflow = offset + 1, False
    for n, st in zip(size, stride, strict=True):
        acc += (st % _U64) * (n - 1)
        if acc >= _U64:
            overflow, acc = True, acc % _U64
    return overflow or acc > INT64_MAX


def check_view(
    offset: int, size: tuple[int, ...], stride: tuple[int, ...], itemsize: int, nbytes: int
) -> ViewProblem | None:
    """Why ``set_(storage of nbytes, offset, size, stride)`` fails, or None if it works.

    Exact to torch's integer arithmetic (``set_sizes_and_strides``, ``safe_compute_numel``,
    ``computeStorageNbytes``; ``computeStorageNbytesContiguous`` for an empty stride
    list): a product that overflows before a zero size is refused, a negative stride on
    a dimension of size one is harmless. An empty tensor with a negative size, which
    torch builds, is ``EMPTY_NEGATIVE`` for callers to leave unverified.
    """
    contiguous = bool(size) and not stride
    if not contiguous and len(size) != len(stride):
        return ViewProblem.LENGTHS
    if not fits_int64((offset, *size, *stride)):
        return ViewProblem.INT64
    if offset < 0:
        return ViewProblem.OFFSET
    numel = _u64_numel(size)
    strides_fit = fits_int64(set_strides(size, stride))
    if not contiguous and not strides_fit:
        return ViewProblem.STRIDE_CALC  # set_sizes_and_strides: before the element count
    if numel is None:
        return ViewProblem.SIZE if min(size) < 0 else ViewProblem.NUMEL
    if not strides_fit:
        return ViewProblem.STRIDE_CALC  # contiguous strides: computed after the count
    needed = (offset + numel) * itemsize
    if contiguous and needed > INT64_MAX:
        return ViewProblem.SPAN  # computeStorageNbytesContiguous checks even when empty
    if numel == 0:  # computeStorageNbytes returns 0 at the first zero size
        return ViewProblem.EMPTY_NEGATIVE if min(size) < 0 else None
    if contiguous:
        return ViewProblem.BOUNDS if needed > nbytes else None
    if _u64_span_overflows(offset, size, stride):
        negative = any(st < 0 for n, st in zip(size, stride, strict=True) if n > 1)
        return ViewProblem.STRIDE if negative else ViewProblem.SPAN
    needed = view_nbytes(offset, size, stride, itemsize)
    if needed > INT64_MAX:
        return ViewProblem.SPAN
    return ViewProblem.BOUNDS if needed > nbytes else None
