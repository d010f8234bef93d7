"""The safetensors layout, written by hand (format: reference §4).

``u64`` little-endian header length, the JSON header padded with spaces to a
multiple of 8, then the tensors back to back. Tensors are ordered like the
safetensors library orders them (larger element size first, then by name) so
that every tensor is aligned to its element size; ``__metadata__`` maps str to str.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
from collections.abc import Iterable

MAX_HEADER = 100_000_000  # safetensors refuses larger headers
# Written bytes handed to the kernel's write-back in steps of this size, so the fsync
# before the rename finds them on disk already (benchmarks/RESULTS.md: convert + fsync
# then beats cp + fsync) and the output does not crowd the page cache.
STREAM_OUT = 64 << 20


class HeaderError(Exception):
    pass


# The safetensors dtype enum in declaration order (the order of the library's own
# "accepted dtypes" error message); files are laid out by this rank, descending, then
# by name, which groups tensors by element size (largest first).
DTYPE_ORDER = [
    "BOOL",
    "F4",
    "F6_E2M3",
    "F6_E3M2",
    "U8",
    "I8",
    "F8_E5M2",
    "F8_E4M3",
    "F8_E8M0",
    "F8_E4M3FNUZ",
    "F8_E5M2FNUZ",
    "I16",
    "U16",
    "F16",
    "BF16",
    "I32",
    "U32",
    "F32",
    "C64",
    "F64",
    "I64",
    "U64",
]
_RANK = {code: i for i, code in enumerate(DTYPE_ORDER)}


def order_key(name: str, code: str) -> tuple[int, str]:
    return (-_RANK[code], name)


def build_header(
    entries: Iterable[tuple[str, str, list[int], int]], metadata: dict[str, str]
) -> bytes:
    """``entries``: (name, dtype code, shape, nbytes) already in data order."""
    doc: dict[str, object] = {}
    if metadata:
        doc["__metadata__"] = {k: metadata[k] for k in sorted(metadata)}
    pos = 0
    for name, code, shape, nbytes in entries:
        doc[name] = {"dtype": code, "shape": shape, "data_offsets": [pos, pos + nbytes]}
        pos += nbytes
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-(8 + len(raw)) % 8)
    if len(raw) > MAX_HEADER:
        raise HeaderError(
            f"the safetensors header would be {len(raw)} bytes; readers refuse more than "
            f"{MAX_HEADER} (too much metadata?)"
        )
    return struct.pack("<Q", len(raw)) + raw


class AtomicFile:
    """A temp file beside ``path`` that becomes ``path`` only on ``commit``.

    Without ``overwrite`` the final step is a hard link, which fails if ``path``
    appeared meanwhile, so an existing file is never replaced.
    """

    def __init__(self, path: str, overwrite: bool) -> None:
        self.path = os.path.abspath(path)
        self.overwrite = overwrite
        directory = os.path.dirname(self.path)
        fd, self.tmp = tempfile.mkstemp(
            dir=directory, prefix="." + os.path.basename(self.path) + ".", suffix=".partial"
        )
        self.fd = fd
        self._written = 0
        self._streamed = 0
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
            self._written += n
        if self._written - self._streamed >= STREAM_OUT:
            self._stream_out()

    def skip(self, n: int) -> None:
        """Leave ``n`` bytes for another writer (the parallel worker fills them)."""
        os.lseek(self.fd, n, os.SEEK_CUR)
        self._written += n

    def _stream_out(self) -> None:
        """Start write-back of what is written so far (Linux: POSIX_FADV_DONTNEED writes
        dirty pages back asynchronously and drops the clean ones); an optimisation only."""
        advise = getattr(os, "posix_fadvise", None)
        if advise is not None:
            with contextlib.suppress(OSError):
                length = self._written - self._streamed
                advise(self.fd, self._streamed, length, os.POSIX_FADV_DONTNEED)
        self._streamed = self._written

    def commit(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        if self.overwrite:
            os.replace(self.tmp, self.path)
            return
        try:
            os.link(self.tmp, self.path)
        except FileExistsError:
            self.abort()
            raise
        except OSError:  # no hard links here: a check-then-rename is the best left
            if os.path.exists(self.path):
                self.abort()
                raise FileExistsError(self.path) from None
            os.replace(self.tmp, self.path)
            return
        os.unlink(self.tmp)

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp)
