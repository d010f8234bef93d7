"""Produce a tensor's bytes in C order from its storage, for any strides.

Contiguous tensors are a single byte range and are streamed. Others are gathered
in memory: the storage span the view touches is read once, dimensions that are
contiguous with each other are merged, and each run along the longest remaining
dimension is copied by one strided ``memoryview`` slice assignment, so Python loops
only over the other dimensions. Memory: the span plus the output tensor.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from torchvet.converter.blobs import CHUNK, Blob
from torchvet.converter.elementwise import typecode


def collapse(shape: tuple[int, ...], stride: tuple[int, ...]) -> list[tuple[int, int]]:
    """(size, stride) pairs with size-1 dims dropped and mergeable neighbours merged."""
    dims = [(n, s) for n, s in zip(shape, stride, strict=True) if n != 1]
    out: list[tuple[int, int]] = []
    for n, s in dims:
        if out and out[-1][1] == n * s:
            out[-1] = (out[-1][0] * n, s)
        else:
            out.append((n, s))
    return out


def is_contiguous(shape: tuple[int, ...], stride: tuple[int, ...]) -> bool:
    if any(n == 0 for n in shape):
        return True
    dims = collapse(shape, stride)
    return not dims or (len(dims) == 1 and dims[0][1] == 1)


def span(offset: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, int]:
    """[first, last + 1) element indices a non-empty view touches (strides >= 0)."""
    last = offset + sum((n - 1) * s for n, s in zip(shape, stride, strict=True))
    return offset, last + 1


def contiguous_chunks(
    blob: Blob, itemsize: int, offset: int, numel: int, chunk: int = CHUNK
) -> Iterator[bytes]:
    chunk -= chunk % itemsize  # whole elements per chunk, for element-wise transforms
    yield from blob.chunks(offset * itemsize, numel * itemsize, chunk)


def gather(
    blob: Blob, itemsize: int, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]
) -> bytes | bytearray:
    numel = 1
    for n in shape:
        numel *= n
    if numel == 0:
        return b""
    lo, hi = span(offset, shape, stride)
    src = memoryview(blob.read(lo * itemsize, (hi - lo) * itemsize)).cast(typecode(itemsize))
    out_buf = bytearray(numel * itemsize)
    out = memoryview(out_buf).cast(typecode(itemsize))
    dims = collapse(shape, stride)
    if not dims:  # a single element
        return bytes(src[offset - lo : offset - lo + 1])
    sizes = [n for n, _ in dims]
    strides = [s for _, s in dims]
    out_strides = [0] * len(dims)
    acc = 1
    for i in range(len(dims) - 1, -1, -1):
        out_strides[i] = acc
        acc *= sizes[i]
    # The vector dimension: the longest one with a non-zero stride (stride 0 repeats).
    order = sorted(range(len(dims)), key=lambda i: (strides[i] != 0, sizes[i]))
    v = order[-1]
    others = [i for i in range(len(dims)) if i != v]
    n_v, s_v, o_v = sizes[v], strides[v], out_strides[v]
    base = offset - lo
    for idx in itertools.product(*(range(sizes[i]) for i in others)):
        s0 = base + sum(j * strides[i] for j, i in zip(idx, others, strict=True))
        o0 = sum(j * out_strides[i] for j, i in zip(idx, others, strict=True))
        if s_v == 0:
            out[o0 : o0 + (n_v - 1) * o_v + 1 : o_v] = memoryview(
                bytes(src[s0 : s0 + 1]) * n_v
            ).cast(src.format)
        else:
            out[o0 : o0 + (n_v - 1) * o_v + 1 : o_v] = src[s0 : s0 + (n_v - 1) * s_v + 1 : s_v]
    src.release()
    return out_buf
