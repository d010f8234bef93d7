"""Byte-range sources: the only way the scanner reads input.

A scan is a pure function of (bytes, policy). Everything reads through ``ByteSource``
(``size`` and ``read_at``), so a local file, an in-memory buffer, a window of another
source, or later a remote object store range reader are interchangeable, and a scan
of a 10 GB checkpoint touches only the few ranges it needs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class ByteSource(Protocol):
    """Random access to an immutable sequence of bytes."""

    name: str

    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes starting at ``offset`` (fewer only at the end)."""
        ...


def readable(offset: int, length: int, size: int) -> int:
    """How many of ``length`` bytes at ``offset`` a source of ``size`` bytes has (fewer
    only at its end); a negative offset or length is a caller's bug."""
    if offset < 0 or length < 0:
        raise ValueError("negative offset or length")
    return max(0, min(length, size - offset))


class BytesSource:
    """A source over bytes already in memory (nested payloads, tests)."""

    def __init__(self, data: bytes | bytearray | memoryview, name: str = "<bytes>") -> None:
        self._data = bytes(data)
        self.name = name
        self.size = len(self._data)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._data[offset : offset + readable(offset, length, self.size)]


class FileSource:
    """A source over a local file, read with positional reads (no shared file position)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.name = os.fspath(path)
        self._fd = os.open(self.name, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        self.size = os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        length = readable(offset, length, self.size)
        if length == 0:
            return b""
        if hasattr(os, "pread"):
            chunks = []
            while length > 0:
                chunk = os.pread(self._fd, length, offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
                length -= len(chunk)
            return b"".join(chunks)
        os.lseek(self._fd, offset, os.SEEK_SET)  # pragma: no cover - Windows
        return os.read(self._fd, length)  # pragma: no cover

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SliceSource:
    """A window ``[start, start + length)`` of another source (e.g. a STORED zip entry)."""

    def __init__(self, base: ByteSource, start: int, length: int, name: str = "") -> None:
        if start < 0 or length < 0 or start + length > base.size:
            raise ValueError("slice outside its source")
        self.base = base
        self.start = start  # where the window starts in ``base``
        self.size = length
        self.name = name or f"{base.name}[{start}:{start + length}]"

    def read_at(self, offset: int, length: int) -> bytes:
        length = readable(offset, length, self.size)
        return self.base.read_at(self.start + offset, length) if length else b""


def iter_range(src: ByteSource, start: int, length: int, chunk: int) -> Iterator[bytes]:
    """Bytes ``[start, start + length)`` of ``src`` in chunks of at most ``chunk`` bytes.

    Raises EOFError when the source ends first (callers turn it into their own error)."""
    pos, end = start, start + length
    while pos < end:
        n = min(chunk, end - pos)
        data = src.read_at(pos, n)
        if len(data) != n:
            raise EOFError(f"{src.name} ends at byte {pos + len(data)}, before {end}")
        yield data
        pos += n


class SourceFile(io.RawIOBase):
    """A seekable read-only file object over a ByteSource, for stdlib readers
    (``zipfile``, ``tarfile``) that are the very code other loaders run.

    ``max_read`` bounds one read call (a forged header can ask tarfile for gigabytes)."""

    def __init__(self, src: ByteSource, max_read: int | None = None) -> None:
        self._src = src
        self._pos = 0
        self._max_read = max_read

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._src.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = len(b)
        if self._max_read is not None and n > self._max_read:
            raise ReadTooLarge(f"a header asks for a read of {n} bytes")
        data = self._src.read_at(self._pos, n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)


class ReadTooLarge(OSError):
    """A single read larger than the reader's bound (``SourceFile.max_read``)."""
