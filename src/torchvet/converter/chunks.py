"""A tensor saved in pieces (DCP chunks, one per rank) read back as one C-order tensor.

The pieces are boxes (offsets, sizes) that tile the tensor. Let ``s`` be the last
dimension some piece does not span fully: every row of the dimensions before ``s``
is, in C order, one run from each piece covering that row, in order of their offset
along ``s``; each run is contiguous inside its piece.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from torchvet.converter.blobs import CHUNK, Blob, BlobError, check_range

# Reads ``count`` elements of a piece starting at its C-order element ``start``.
PieceReader = Callable[[int, int], bytes]


@dataclass
class Piece:
    offsets: tuple[int, ...]
    sizes: tuple[int, ...]
    read: PieceReader

    @property
    def numel(self) -> int:
        n = 1
        for s in self.sizes:
            n *= s
        return n


class ComposedBlob(Blob):
    def __init__(self, shape: tuple[int, ...], itemsize: int, pieces: list[Piece]) -> None:
        self.shape = shape
        self.itemsize = itemsize
        self.pieces = pieces
        numel = 1
        for n in shape:
            numel *= n
        self.size = numel * itemsize
        _check_tiling(shape, pieces, numel)
        self.split = _split_dim(shape, pieces)

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        check_range(self, start, length)
        if start % self.itemsize or length % self.itemsize:
            raise BlobError("a chunked tensor is read in whole elements")
        lo, hi = start // self.itemsize, (start + length) // self.itemsize
        pos, out = 0, bytearray()
        for piece, first, count in self._runs():
            a, b = max(lo, pos), min(hi, pos + count)
            if a < b:
                out += piece.read(first + a - pos, b - a)
                if len(out) >= chunk:
                    yield bytes(out)
                    out.clear()
            pos += count
            if pos >= hi:
                break
        if out:
            yield bytes(out)

    def _runs(self) -> Iterator[tuple[Piece, int, int]]:
        """(piece, first element in the piece, element count) in output order."""
        s = self.split
        if s < 0:
            yield self.pieces[0], 0, self.pieces[0].numel
            return
        inner = 1
        for n in self.shape[s + 1 :]:
            inner *= n
        by_offset = sorted(self.pieces, key=lambda p: p.offsets[s])
        for row in itertools.product(*(range(n) for n in self.shape[:s])):
            for p in by_offset:
                if all(o <= r < o + n for r, o, n in zip(row, p.offsets, p.sizes, strict=False)):
                    local = 0
                    for r, o, n in zip(row, p.offsets, p.sizes, strict=False):
                        local = local * n + (r - o)
                    run = p.sizes[s] * inner
                    yield p, local * run, run


def _split_dim(shape: tuple[int, ...], pieces: list[Piece]) -> int:
    """The last dimension some piece does not span fully (-1: one piece spans all)."""
    for d in range(len(shape) - 1, -1, -1):
        if any(p.offsets[d] != 0 or p.sizes[d] != shape[d] for p in pieces):
            return d
    return -1


def _check_tiling(shape: tuple[int, ...], pieces: list[Piece], numel: int) -> None:
    """Disjoint boxes inside the tensor whose volumes add up to it cover it exactly."""
    if not pieces:
        raise BlobError("no pieces")
    for p in pieces:
        if len(p.offsets) != len(shape) or len(p.sizes) != len(shape):
            raise BlobError(f"a piece of rank {len(p.sizes)} in a tensor of rank {len(shape)}")
        for o, n, full in zip(p.offsets, p.sizes, shape, strict=True):
            if o < 0 or n < 0 or o + n > full:
                raise BlobError(f"piece at {p.offsets} of size {p.sizes} lies outside {shape}")
    if sum(p.numel for p in pieces) != numel:
        raise BlobError("the pieces do not add up to the tensor")
    for a, b in itertools.combinations(pieces, 2):
        if (
            a.numel
            and b.numel
            and all(
                oa < ob + nb and ob < oa + na
                for oa, na, ob, nb in zip(a.offsets, a.sizes, b.offsets, b.sizes, strict=True)
            )
        ):
            raise BlobError(f"pieces at {a.offsets} and {b.offsets} overlap")
