"""Compressed files: gzip, zlib, bz2, xz, lzma, lz4, zstd, and joblib's old "ZF" files.

torch.load never decompresses: it reads the first byte as a pickle opcode and fails
("Unsupported operand 31" for gzip, 120 for zlib). Loaders that do decompress
(joblib.load picks the codec from the magic bytes, as do people who gunzip a
checkpoint) see the inner file, so it is decompressed here, incrementally and with an
output bound, sniffed, and scanned like any file; its findings are added to the outer
file's.
"""

from __future__ import annotations

import bz2
import contextvars
import importlib
import lzma
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import pickle_view_error
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.containers.sniff import codec_of
from torchvet.results import Category
from torchvet.source import ByteSource, BytesSource, FileSource

MAX_OUTPUT = 1 << 30  # decompressed bytes kept, at most (also bounded by max_pickle_bytes)
MAX_NESTING = 3  # compressed files inside compressed files
_SPILL = 64 << 20  # decompressed output beyond this goes to a temporary file
_OUT_CHUNK = 16 << 20  # output per decompressor call (a 1 MiB input can inflate 1000x)
_CHUNK = 1 << 20
_SUFFIXES = (".gz", ".z", ".zlib", ".bz2", ".xz", ".lzma", ".lz4", ".zst", ".zstd", ".tgz")
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("torchvet_compressed_depth", default=0)


class _Error(Exception):
    """Decompression stopped; ``category`` says what that means for the file."""

    def __init__(self, message: str, category: Category = Category.MALFORMED) -> None:
        super().__init__(message)
        self.category = category


def scan_compressed(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    head = src.read_at(0, 32)
    codec = codec_of(head) or "unknown"
    scan = ContainerScan(codec)
    scan.torch_fails(pickle_view_error(src, ctx))
    scan.add(
        Category.UNSUPPORTED_FORM,
        f"a {codec}-compressed file: torch.load(weights_only=True) refuses it; decompress it "
        "first (joblib.load decompresses and runs the pickle inside)",
    )
    limit = min(MAX_OUTPUT, ctx.max_pickle_bytes)
    sink = _Sink()
    try:
        _decompress(codec, src, limit, sink)
        with sink.source() as inner:
            _scan_inner(scan, inner, codec, ctx)
    except _Error as exc:
        scan.add(exc.category, str(exc))
    finally:
        sink.discard()
    check_safetensors_suffix(scan, src, ctx)
    return scan


class DecompressError(Exception):
    """The inner file cannot be had (the message says why)."""


@contextmanager
def decompressed(src: ByteSource, ctx: ScanContext) -> Iterator[ByteSource]:
    """The inner file of a compressed one, bounded as a scan is (for the converter)."""
    codec = codec_of(src.read_at(0, 32)) or "unknown"
    sink = _Sink()
    try:
        try:
            _decompress(codec, src, min(MAX_OUTPUT, ctx.max_pickle_bytes), sink)
        except _Error as exc:
            raise DecompressError(str(exc)) from None
        with sink.source() as inner:
            yield inner
    finally:
        sink.discard()


class _Sink:
    """Decompressed bytes: in memory while small, else in a temporary file that the
    inner scan maps (so a large joblib file's arrays are skipped, not held)."""

    def __init__(self) -> None:
        self._mem = bytearray()
        self._file: Any = None
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None and len(self._mem) + len(data) <= _SPILL:
            self._mem += data
            return
        if self._file is None:
            self._file = tempfile.NamedTemporaryFile(prefix="torchvet-", delete=False)  # noqa: SIM115
            self._file.write(self._mem)
            self._mem = bytearray()
        self._file.write(data)

    @contextmanager
    def source(self) -> Iterator[ByteSource]:
        if self._file is None:
            yield BytesSource(bytes(self._mem))
            return
        self._file.close()
        with FileSource(self._file.name) as src:
            yield src

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            with suppress(OSError):
                os.unlink(self._file.name)
            self._file = None


def _scan_inner(scan: ContainerScan, src: ByteSource, codec: str, ctx: ScanContext) -> None:
    from torchvet.scan import scan_container  # the dispatcher, for the inner file

    inner_name = _strip_suffix(ctx.path.rsplit("/", 1)[-1]) or "inner"
    depth = _depth.get()
    if depth >= MAX_NESTING:
        scan.add(Category.MALFORMED, f"compressed more than {MAX_NESTING} times over", inner_name)
        return
    token = _depth.set(depth + 1)
    try:
        inner = scan_container(src, ctx.for_path(inner_name))
    finally:
        _depth.reset(token)
    scan.format = f"{codec}:{inner.format}"
    scan.root = inner.root
    scan.extra["inner"] = inner
    for f in inner.findings:
        where = f"{inner_name}:{f.entry}" if f.entry else inner_name
        scan.add(f.category, f.message, where, f.offset, f.global_name)
    for name in inner.allowlist:
        if name not in scan.allowlist:
            scan.allowlist.append(name)


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in _SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


# -- decompression ---------------------------------------------------------------------
def _decompress(codec: str, src: ByteSource, limit: int, sink: _Sink) -> None:
    if codec == "joblib-zfile":
        _zfile(src, limit, sink)
        return
    factory = _FACTORIES.get(codec)
    if factory is None:
        raise _Error(f"{codec}: torchvet cannot decompress it (no decompressor)")
    make = factory()
    if make is None:
        raise _Error(
            f"{codec}: its content was not scanned: torchvet needs the {codec} package "
            "to decompress it",
            Category.UNSUPPORTED_FORM,
        )
    _streams(make, _chunks(src, 0), limit, codec, sink)


def _chunks(src: ByteSource, start: int) -> Iterator[bytes]:
    pos = start
    while pos < src.size:
        data = src.read_at(pos, _CHUNK)
        if not data:
            return
        pos += len(data)
        yield data


class _Input:
    """Compressed bytes, chunk by chunk, with room to give back what a stream left over."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._back = b""

    def take(self) -> bytes:
        if self._back:
            data, self._back = self._back, b""
            return data
        return next(self._chunks, b"")

    def give_back(self, data: bytes) -> None:
        self._back = data + self._back

    def skip_zeros(self) -> None:
        while True:
            data = self.take()
            if not data:
                return
            data = data.lstrip(b"\x00")
            if data:
                self.give_back(data)
                return

    def at_end(self) -> bool:
        data = self.take()
        self.give_back(data)
        return not data


class _Decoder:
    """One compressed stream: zlib objects and the bz2/lzma-style ones behind one API."""

    def __init__(self, d: Any) -> None:
        self._d = d
        self._zlib = hasattr(d, "unconsumed_tail")
        self._tail = b""

    @property
    def eof(self) -> bool:
        return bool(self._d.eof)

    @property
    def pending(self) -> bool:
        """More output is ready without more input."""
        if self._zlib:
            return bool(self._tail)
        return not self._d.eof and not self._d.needs_input

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data)

    def feed(self, data: bytes, max_out: int) -> bytes:
        if self._zlib:
            out = self._d.decompress(self._tail + data, max_out)
            self._tail = self._d.unconsumed_tail
            return bytes(out)
        return bytes(self._d.decompress(data, max_out))


_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)


def _streams(
    make: Callable[[], Any], chunks: Iterator[bytes], limit: int, codec: str, out: _Sink
) -> None:
    """Concatenated compressed streams (gzip members, bz2/xz streams) into bounded output."""
    inp = _Input(chunks)
    first = True
    while True:
        if not first:
            if codec == "gzip":
                inp.skip_zeros()  # gzip readers skip zero padding between members
            if inp.at_end():
                return
        dec = _Decoder(make())
        try:
            while not dec.eof:
                data = b"" if dec.pending else inp.take()
                if not data and not dec.pending:
                    raise _Error(f"{codec} data is truncated (the stream does not end)")
                out.write(dec.feed(data, min(_OUT_CHUNK, max(1, limit + 1 - out.size))))
                if out.size > limit:
                    raise _Error(
                        f"{codec} data decompresses to more than {limit} bytes, beyond "
                        "torchvet's bound (a decompression bomb?)"
                    )
        except _ERRORS as exc:
            if first:
                raise _Error(f"{codec} data is corrupt: {exc}") from None
            return  # bytes after the last stream that are not another stream
        inp.give_back(dec.unused)
        first = False


def _zfile(src: ByteSource, limit: int, sink: _Sink) -> None:
    """joblib < 0.10: "ZF", the hex length padded to 19 bytes, maybe a space, zlib data."""
    header = src.read_at(0, 22)
    try:
        length = int(header[2:21], 16)
    except ValueError:
        raise _Error("joblib ZF file has an unreadable length") from None
    if length > limit:
        raise _Error(f"joblib ZF file declares {length} bytes, beyond torchvet's bound")
    start = 22 if header[21:22] == b" " else 21
    _streams(lambda: zlib.decompressobj(15), _chunks(src, start), limit, "zlib", sink)
    if sink.size != length:
        raise _Error(f"joblib ZF file holds {sink.size} bytes, not the declared {length}")


def _optional(module: str, attr: str) -> Callable[[], Callable[[], Any] | None]:
    def factory() -> Callable[[], Any] | None:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return None
        return getattr(mod, attr)

    return factory


_FACTORIES: dict[str, Callable[[], Callable[[], Any] | None]] = {
    "gzip": lambda: lambda: zlib.decompressobj(31),
    "zlib": lambda: lambda: zlib.decompressobj(15),
    "bz2": lambda: bz2.BZ2Decompressor,
    "xz": lambda: lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ),
    "lzma": lambda: lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE),
    "lz4": _optional("lz4.frame", "LZ4FrameDecompressor"),
    "zstd": _optional("compression.zstd", "ZstdDecompressor"),
}
