"""Checks that need a few bytes of tensor data: settled after the pickle is read.

torch validates each component of a nested tensor against its buffer using the
*contents* of the sizes / strides / offsets tensors. Those are small int64 metadata
tensors; reading them (bounded) keeps the safe verdict exact without reading weights.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from torchvet import budget as budgets
from torchvet.containers.base import ContainerScan
from torchvet.observations import Seen
from torchvet.pickle.models import INT64_MAX, TensorInfo, tensor_info
from torchvet.pickle.trace import StreamTrace
from torchvet.pickle.values import Storage

MAX_METADATA_ELEMENTS = 1 << 20
StorageReader = Callable[[Storage], bytes | None]


def _int64_values(info: TensorInfo, read: StorageReader) -> list[int] | None:
    """The elements of a dense int64 tensor in row-major order, or None if unreadable."""
    if info.storage is None or info.stride is None or info.numel > MAX_METADATA_ELEMENTS:
        return None
    budget = budgets.current()
    if budget is not None:  # many nested tensors may share one big metadata tensor
        if budget.work < info.numel:
            budget.note("nested tensor metadata: the file's work budget is spent")
            return None
        budget.work -= info.numel
    data = read(info.storage)
    if data is None:
        return None
    out = []
    index = [0] * len(info.shape)
    for _ in range(info.numel):
        elem = info.offset + sum(i * s for i, s in zip(index, info.stride, strict=True))
        out.append(struct.unpack_from("<q", data, elem * 8)[0])
        for d in range(len(index) - 1, -1, -1):
            index[d] += 1
            if index[d] < info.shape[d]:
                break
            index[d] = 0
    return out


def settle_deferred(
    trace: StreamTrace, scan: ContainerScan, read: StorageReader, itemsizes: dict[str, int]
) -> None:
    for pos, kind, payload in trace.deferred:
        if kind == "nested" and isinstance(payload, TensorInfo):
            _check_nested(trace, scan, read, itemsizes, pos, payload)


def _check_nested(
    trace: StreamTrace,
    scan: ContainerScan,
    read: StorageReader,
    itemsizes: dict[str, int],
    pos: int,
    info: TensorInfo,
) -> None:
    parts = {k: tensor_info(v) for k, v in info.parts.items()}
    buf, sizes, strides, offsets = (parts[k] for k in ("buffer", "sizes", "strides", "offsets"))
    assert buf is not None and sizes is not None and strides is not None and offsets is not None
    values = [_int64_values(t, read) for t in (sizes, strides, offsets)]
    if any(v is None for v in values) or buf.storage is None or buf.offset != 0:
        scan.observe(
            Seen.UNMODELLED,
            f"nested tensor at offset {pos}: its metadata tensors could not be read",
            trace.entry,
            pos,
        )
        return
    size_v, stride_v, offset_v = values
    n, d = sizes.shape
    itemsize = itemsizes[buf.dtype]
    capacity = buf.storage.nbytes  # torch checks each view against the buffer's storage
    for i in range(n):
        sz = size_v[i * d : (i + 1) * d]  # type: ignore[index]
        st = stride_v[i * d : (i + 1) * d]  # type: ignore[index]
        off = offset_v[i]  # type: ignore[index]
        problem = None
        if off < 0 or any(s < 0 for s in sz) or any(s < 0 for s in st):
            problem = "a negative size, stride or offset"
        elif all(s > 0 for s in sz):
            last = off + sum((s - 1) * t for s, t in zip(sz, st, strict=True))
            if (last + 1) * itemsize > min(capacity, INT64_MAX):
                problem = f"component {i} reads past the end of the buffer"
        if problem is not None:
            scan.observe(
                Seen.BROKEN, f"nested tensor at offset {pos} has {problem}", trace.entry, pos
            )
            scan.torch_fails("setStorage: sizes ... are out of bounds for storage")
            return
