"""Where a storage's bytes are, and how to read a byte range of them in bounded chunks.

A zip STORED record or a legacy-format blob is a plain byte range of the input; a
DEFLATE record has no random access, so a range is read by inflating from the start
of the record and skipping (rare: only archives rewritten by other zip tools).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from torchvet.containers.zipreader import ZipArchive, ZipEntry, ZipError
from torchvet.source import ByteSource, iter_range

CHUNK = 8 << 20


class BlobError(Exception):
    """A storage's bytes cannot be read."""


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
        _check(self, start, length)
        try:
            yield from iter_range(self.source, self.base + start, length, chunk)
        except EOFError:
            raise BlobError(f"{self.source.name} is truncated") from None

    def file_range(self) -> tuple[str, int] | None:
        name = getattr(self.source, "name", "")
        if type(self.source).__name__ == "FileSource" and os.path.isfile(name):
            return name, self.base
        return None


class DeflateBlob(Blob):
    """A DEFLATE-compressed zip record."""

    def __init__(self, archive: ZipArchive, entry: ZipEntry) -> None:
        self.archive = archive
        self.entry = entry
        self.size = entry.size

    def chunks(self, start: int, length: int, chunk: int = CHUNK) -> Iterator[bytes]:
        _check(self, start, length)
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


def _check(blob: Blob, start: int, length: int) -> None:
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
