"""Produce a strided view's bytes in C order, in bounded pieces, at C speed, without numpy.

Two levels of blocking, both over runs of consecutive output elements ("boxes"):

* a *window* (``WINDOW`` output bytes) fetches its source at once: the span it touches
  when that is small, else a *panel* of runs read along the dimension contiguous in the
  source, one positioned read per run (a transposed matrix: each output row takes one
  element from every source row, so reading the span would read everything per row);
* an *output block* (``OUT_BLOCK`` bytes, small enough to stay in cache until it is
  written) is copied out of the window's source and yielded.

Copying is one ``memoryview`` strided slice assignment per run of up to ``TILE_BYTES``
along the output's innermost dimension, never a Python loop over elements; consecutive
assignments read neighbouring source elements, so the source lines a tile touches stay in
cache for the next one (the blocking a C transpose uses, with Python looping over tiles).
Measured in benchmarks/RESULTS.md; the buffers live in a ``Scratch`` reused across
tensors, so memory stays at a few windows whatever the tensor's size.
"""

from __future__ import annotations

import array
import itertools
from collections.abc import Callable, Iterator

from torchvet.converter.blobs import CHUNK, Blob
from torchvet.converter.elementwise import typecode

WINDOW = 32 << 20  # output bytes whose source is fetched at once
OUT_BLOCK = 512 << 10  # output bytes per yielded piece (cache-sized: written while hot)
TILE_BYTES = 2048  # bytes per strided copy
# Reads bytes of the storage, starting at a byte offset, into the whole of a buffer.
Reader = Callable[[int, memoryview], None]
Dims = list[tuple[int, int, int]]  # (size, source stride, output stride), in elements


class Scratch:
    """Buffers reused from tensor to tensor (no fresh pages per tensor). Sources are
    ``array``s: a strided ``array`` slice copies one element per step, about twice as
    fast as a strided ``memoryview`` assignment (which copies twice via a temporary)."""

    def __init__(self) -> None:
        self._bufs: dict[str, bytearray] = {}
        self._arrays: dict[str, array.array] = {}

    def get(self, name: str, size: int) -> memoryview:
        buf = self._bufs.get(name)
        if buf is None or len(buf) < size:
            buf = self._bufs[name] = bytearray(size)
        return memoryview(buf)[:size]

    def source(self, code: str, count: int) -> tuple[array.array, memoryview]:
        """An array of at least ``count`` elements and a byte view of its first ``count``."""
        arr = self._arrays.get(code)
        if arr is None or len(arr) < count:
            arr = self._arrays[code] = array.array(code, bytes(count * _width(code)))
        return arr, memoryview(arr).cast("B")[: count * arr.itemsize]


def _width(code: str) -> int:
    return array.array(code).itemsize


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


def contiguous_chunks(
    blob: Blob, itemsize: int, offset: int, numel: int, chunk: int = CHUNK
) -> Iterator[bytes]:
    chunk -= chunk % itemsize  # whole elements per chunk, for element-wise transforms
    yield from blob.chunks(offset * itemsize, numel * itemsize, chunk)


def blob_reader(blob: Blob) -> Reader:
    def read(start: int, into: memoryview) -> None:
        pos = 0
        for data in blob.chunks(start, len(into)):
            into[pos : pos + len(data)] = data
            pos += len(data)

    return read


def gather(
    blob: Blob, itemsize: int, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]
) -> bytes:
    """The whole view at once (small views only: DCP chunk pieces)."""
    pieces = gather_blocks(blob_reader(blob), itemsize, offset, shape, stride)
    return b"".join(bytes(p) for p in pieces)


def gather_blocks(
    read: Reader,
    itemsize: int,
    offset: int,
    shape: tuple[int, ...],
    stride: tuple[int, ...],
    scratch: Scratch | None = None,
    window: int = WINDOW,
    out_block: int = OUT_BLOCK,
) -> Iterator[memoryview]:
    """The view's bytes in C order, as consecutive pieces (each valid until the next)."""
    if any(n == 0 for n in shape):
        return
    scratch = scratch or Scratch()
    dims = collapse(shape, stride)
    code = typecode(itemsize)
    if not dims:  # a single element
        one = scratch.get("out", itemsize)
        read(offset * itemsize, one)
        yield one
        return
    for base, box in _boxes(dims, offset, itemsize, window):
        fetched = _fetch(read, itemsize, base, box, scratch, window)
        if fetched is None:  # runs too sparse to hold: element by element (never in torch files)
            yield from _elementwise(read, itemsize, base, box, scratch)
            continue
        src, local_base, local = fetched
        for sub_base, sub in _boxes([(n, s) for n, s, _ in local], local_base, itemsize, out_block):
            out = scratch.get("out", _numel(sub) * itemsize)
            copy(src, sub_base, out.cast(code), sub)
            yield out


def _numel(dims: Dims) -> int:
    n = 1
    for size, _, _ in dims:
        n *= size
    return n


def _boxes(
    dims: list[tuple[int, int]], offset: int, itemsize: int, limit: int
) -> Iterator[tuple[int, Dims]]:
    """Runs of consecutive output elements of at most ``limit`` bytes, in output order:
    (source element of the first one, dims with output strides inside the run)."""
    if not dims:  # one element
        yield offset, []
        return
    sizes = [n for n, _ in dims]
    ostrides = [1] * len(dims)
    for d in range(len(dims) - 2, -1, -1):
        ostrides[d] = ostrides[d + 1] * sizes[d + 1]
    k = next(d for d in range(len(dims)) if ostrides[d] * itemsize <= limit)
    m = max(1, limit // (ostrides[k] * itemsize))
    inner = [(n, s, o) for (n, s), o in zip(dims[k + 1 :], ostrides[k + 1 :], strict=True)]
    for idx in itertools.product(*(range(n) for n in sizes[:k])):
        base = offset + sum(i * s for i, (_, s) in zip(idx, dims, strict=False))
        for a in range(0, sizes[k], m):
            count = min(m, sizes[k] - a)
            box = [(count, dims[k][1], ostrides[k]), *inner] if count > 1 else list(inner)
            yield base + a * dims[k][1], box


def _fetch(
    read: Reader, itemsize: int, base: int, box: Dims, scratch: Scratch, window: int
) -> tuple[array.array, int, Dims] | None:
    """The box's source in memory: its span when small, else a panel of runs along the
    source-contiguous dimension. Returns (buffer, base element, dims over the buffer)."""
    code = typecode(itemsize)
    width = sum((n - 1) * s for n, s, _ in box) + 1
    if width * itemsize <= window:
        src, raw = scratch.source(code, width)
        read(base * itemsize, raw)
        raw.release()
        return src, 0, box
    v = _source_contiguous(box)
    n_v, s_v, o_v = box[v]
    others = [d for i, d in enumerate(box) if i != v]
    run = (n_v - 1) * s_v + 1
    runs = _numel(others)
    step = run * itemsize
    if runs * step > 2 * window:
        return None
    panel, raw = scratch.source(code, runs * run)
    pos = 0
    for start in _offsets(others, base):
        read(start * itemsize, raw[pos : pos + step])
        pos += step
    raw.release()
    pstrides, acc = [0] * len(others), run
    for i in range(len(others) - 1, -1, -1):
        pstrides[i] = acc
        acc *= others[i][0]
    local: Dims = [(n, ps, o) for (n, _, o), ps in zip(others, pstrides, strict=True)]
    local.insert(v, (n_v, s_v, o_v))
    return panel, 0, local


def _elementwise(
    read: Reader, itemsize: int, base: int, box: Dims, scratch: Scratch
) -> Iterator[memoryview]:
    per_piece = max(1, OUT_BLOCK // itemsize)
    starts = _offsets(box, base)
    left = _numel(box)
    while left:
        count = min(per_piece, left)
        out = scratch.get("out", count * itemsize)
        for i in range(count):
            read(next(starts) * itemsize, out[i * itemsize : (i + 1) * itemsize])
        left -= count
        yield out


def _offsets(dims: Dims, base: int, which: int = 1) -> Iterator[int]:
    """Source (``which`` = 1) or output (2) offsets of every index of ``dims``, C order."""
    if not dims:
        yield base
        return
    n, stride = dims[-1][0], dims[-1][which]
    for start in _offsets(dims[:-1], base, which):
        if stride:
            yield from range(start, start + n * stride, stride)
        else:
            yield from itertools.repeat(start, n)


def _offsets_out(dims: Dims) -> Iterator[int]:
    return _offsets(dims, 0, 2)


def _source_contiguous(dims: Dims) -> int:
    """The dim with the smallest non-zero source stride (longest on ties)."""
    moving = [i for i, (_, s, _) in enumerate(dims) if s != 0]
    if not moving:
        return len(dims) - 1
    return min(moving, key=lambda i: (dims[i][1], -dims[i][0]))


def copy(src: array.array, base: int, out: memoryview, dims: Dims) -> None:
    """out (C order over ``dims``) <- src[base + sum(index * source stride)]."""
    if not dims:
        out[0] = src[base]
        return
    w = min(range(len(dims)), key=lambda i: dims[i][2])  # the output's innermost dimension
    v = _source_contiguous(dims)
    if dims[v][1] == 0:  # every dimension repeats one element (a broadcast scalar)
        out[:] = array.array(src.typecode, [src[base]]) * len(out)
        return
    if v == w or dims[w][1] == 0:  # runs along v are the output's rows: copy them whole
        _copy_runs(src, base, out, dims, v)
        return
    _copy_tiles(src, base, out, dims, v, w, max(1, TILE_BYTES // out.itemsize))


def _copy_runs(src: array.array, base: int, out: memoryview, dims: Dims, v: int) -> None:
    n_v, s_v, o_v = dims[v]
    rest = dims[:v] + dims[v + 1 :]
    s_last, o_last = (n_v - 1) * s_v + 1, (n_v - 1) * o_v + 1
    for s, o in zip(_offsets(rest, base), _offsets_out(rest), strict=True):
        out[o : o + o_last : o_v] = src[s : s + s_last : s_v]


def _copy_tiles(
    src: array.array, base: int, out: memoryview, dims: Dims, v: int, w: int, tile: int
) -> None:
    """A transpose: tiles of ``tile`` elements along w (contiguous in the output), the
    Python loop innermost over v (contiguous in the source), so that consecutive tiles
    read neighbouring source elements from the same cache lines."""
    n_v, s_v, o_v = dims[v]
    n_w, s_w, o_w = dims[w]
    rest = [d for i, d in enumerate(dims) if i not in (v, w)]
    for s0, o0 in zip(_offsets(rest, base), _offsets_out(rest), strict=True):
        for b0 in range(0, n_w, tile):
            b = min(tile, n_w - b0)
            s_span, o_span = (b - 1) * s_w + 1, (b - 1) * o_w + 1
            s, o = s0 + b0 * s_w, o0 + b0 * o_w
            for _ in range(n_v):
                out[o : o + o_span : o_w] = src[s : s + s_span : s_w]
                s += s_v
                o += o_v
