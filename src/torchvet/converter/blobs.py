"""Where a storage's bytes are, and how to read a byte range of them in bounded chunks.

A zip STORED record or a legacy-format blob is a plain byte range of the input; a
DEFLATE record has no random access, so a range is read by inflating from the start
of the record and skipping (rare: only archives rewritten by other zip tools).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError
from torchvet.source import ByteSource, FileSource, SliceSource, iter_range

CHUNK = 8 << 20


class BlobError(Exception):
    """A storage's bytes cannot be read."""


@dataclass(frozen=True)
class SourceRange:
    """A storage record that names its bytes directly: ``size`` bytes at ``offset`` of
    ``source`` (numpy data in a .npy, a joblib file or a pickle's bytes)."""

    source: ByteSource
    offset: int
    size: int
    big_endian: bool = False


class Blob:
    size: int

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        raise NotImplementedError

    def read(self, start: int, length: int) -> bytes:
        return b"".join(self.chunks(start, length))

    def file_range(self) -> tuple[str, int] | None:
        """(path, offset of byte 0) when the bytes lie verbatim in a local file."""
        return None


class RangeBlob(Blob):
    """``size`` bytes at ``base`` in a byte source."""

    def __init__(self, source: ByteSource, base: int, size: int) -> None:
        if base < 0 or size < 0 or base + size > source.size:
            raise BlobError(
                f"storage bytes [{base}, {base + size}) lie outside the file ({source.size} bytes)"
            )
        self.source = source
        self.base = base
        self.size = size

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        check_range(self, start, length)
        try:
            yield from iter_range(self.source, self.base + start, length, chunk)
        except EOFError:
            raise BlobError(f"{self.source.name} is truncated") from None

    def file_range(self) -> tuple[str, int] | None:
        source, base = self.source, self.base
        while isinstance(source, SliceSource):  # a window of a file is still the file
            source, base = source.base, base + source.start
        if isinstance(source, FileSource) and os.path.isfile(source.name):
            return source.name, base
        return None


class DeflateBlob(Blob):
    """A DEFLATE-compressed zip record."""

    def __init__(self, archive: ZipArchive, entry: ZipEntry) -> None:
        self.archive = archive
        self.entry = entry
        self.size = entry.size

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        check_range(self, start, length)
        pos, end = 0, start + length
        try:
            for data in self.archive.iter_chunks(self.entry):
                lo, hi = max(start, pos), min(end, pos + len(data))
                if lo < hi:
                    yield data[lo - pos : hi - pos]
                pos += len(data)
                if pos >= end:
                    return
        except ZipError as exc:
            raise BlobError(str(exc)) from None
        if pos < end:
            raise BlobError(f"{self.entry.name} is shorter than its declared size")


class SubBlob(Blob):
    """``size`` bytes at ``base`` of another blob (an array inside an .npz member)."""

    def __init__(self, inner: Blob, base: int, size: int) -> None:
        if base < 0 or size < 0 or base + size > inner.size:
            raise BlobError(f"bytes [{base}, {base + size}) lie outside a {inner.size}-byte record")
        self.inner = inner
        self.base = base
        self.size = size

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        check_range(self, start, length)
        yield from self.inner.chunks(self.base + start, length, chunk)

    def file_range(self) -> tuple[str, int] | None:
        where = self.inner.file_range()
        return None if where is None else (where[0], where[1] + self.base)


def check_range(blob: Blob, start: int, length: int) -> None:
    if start < 0 or length < 0 or start + length > blob.size:
        raise BlobError(
            f"byte range [{start}, {start + length}) outside a {blob.size}-byte storage"
        )


def zip_blob(archive: ZipArchive, entry: ZipEntry) -> Blob:
    try:
        archive.check_extractable(entry)
        if entry.method == 0:
            return RangeBlob(archive.source, archive.data_offset(entry), entry.size)
    except ZipError as exc:
        raise BlobError(str(exc)) from None
    return DeflateBlob(archive, entry)
