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
    SIZE = "a negative size"
    NUMEL = "more than 2**63 elements"
    EMPTY_NEGATIVE_STRIDE = "a negative stride on an empty tensor"  # not modelled
    STRIDE = "a negative stride"
    SPAN = "a span beyond 2**63 bytes"
    BOUNDS = "a span beyond the storage"


def view_nbytes(offset: int, size: tuple[int, ...], stride: tuple[int, ...], itemsize: int) -> int:
    """Bytes of storage a non-empty view reaches (torch's ``computeStorageNbytes``)."""
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    return (last + 1) * itemsize


def check_view(
    offset: int, size: tuple[int, ...], stride: tuple[int, ...], itemsize: int, nbytes: int
) -> ViewProblem | None:
    """Why ``set_(storage of nbytes, offset, size, stride)`` fails, or None if it works."""
    if len(size) != len(stride):
        return ViewProblem.LENGTHS
    if not fits_int64((offset, *size, *stride)):
        return ViewProblem.INT64
    if offset < 0:
        return ViewProblem.OFFSET
    if size and min(size) < 0:
        return ViewProblem.SIZE
    numel = product(size)
    if numel > INT64_MAX:
        return ViewProblem.NUMEL
    negative_stride = any(st < 0 for st in stride)
    if numel == 0:
        return ViewProblem.EMPTY_NEGATIVE_STRIDE if negative_stride else None
    if negative_stride:
        return ViewProblem.STRIDE
    needed = view_nbytes(offset, size, stride, itemsize)
    if needed > INT64_MAX:
        return ViewProblem.SPAN
    return ViewProblem.BOUNDS if needed > nbytes else None
