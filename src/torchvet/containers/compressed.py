"""Compressed files: gzip, zlib, bz2, xz, lzma, lz4, zstd, and joblib's old "ZF" files.

torch.load never decompresses: it reads the first byte as a pickle opcode and fails
("Unsupported operand 31" for gzip, 120 for zlib). Loaders that do decompress
(joblib.load picks the codec from the magic bytes, pandas.read_pickle from the suffix,
as do people who gunzip a checkpoint) see the inner file, so it is decompressed here,
incrementally, sniffed, and scanned like any file; what is observed in it counts
for the outer file.

Decompression is bounded three ways, because a 1 MB file can expand a millionfold:
output comes in bounded chunks, the total is taken from the file's ``Budget`` (a capped
file's prefix is still scanned, and a LIMIT finding says how far it was read), and the
decoders' own memory is capped (xz/lzma ``memlimit``, zstd's window). A stream that
breaks halfway is scanned up to the break too: loaders that decompress as they unpickle
(joblib, pandas) run whatever comes before it.

zstd (pandas writes it) is read with ``zstandard`` and lz4 (joblib writes it) with
``lz4``: both are small, dependency-free, maintained bindings of the reference C
libraries, so they are core dependencies rather than an extra a user could miss.
"""

from __future__ import annotations

import bz2
import contextvars
import importlib
import io
import lzma
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from torchvet import budget as budgets
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.buffers import read_as_pickle_by_torch
from torchvet.containers.safetensors_files import check_safetensors_suffix
from torchvet.containers.sniff import codec_of
from torchvet.observations import Included, Seen
from torchvet.source import ByteSource, BytesSource, FileSource

MAX_OUTPUT = 1 << 30  # decompressed bytes kept, at most (also bounded by the budget)
MAX_NESTING = 3  # compressed files inside compressed files
_SPILL = 16 << 20  # decompressed output beyond this goes to a temporary file
_OUT_CHUNK = 4 << 20  # output per decompressor call (a 1 MiB input can inflate 1000x)
_CHUNK = 1 << 20
_HEAD_STEP = 64 << 10  # input per read when only a head is wanted
_LZMA_MEMLIMIT = 96 << 20  # xz -9 needs 65 MiB; a forged header may ask for 4 GiB
_ZSTD_WINDOW = 1 << 27  # libzstd's own default limit (levels up to 22, --long=27)
_ZSTD_STEP = 64  # input bytes per zstd call: one zstd byte expands to <= 32 KiB
# Names compressed files end in (pandas picks its codec by them; check finds model files
# behind them).
SUFFIXES = (".gz", ".z", ".zlib", ".bz2", ".xz", ".lzma", ".lz4", ".zst", ".zstd", ".tgz")
_depth: contextvars.ContextVar[int] = contextvars.ContextVar("torchvet_compressed_depth", default=0)


class _Error(Exception):
    """Decompression stopped; ``seen`` says what that means for the file."""

    def __init__(self, message: str, seen: Seen = Seen.BROKEN, scan_output: bool = True) -> None:
        super().__init__(message)
        self.seen = seen
        self.scan_output = scan_output  # does a loader unpickle what came out before it?


def scan_compressed(src: ByteSource, ctx: ScanContext, codec: str | None = None) -> ContainerScan:
    """Decompress and scan the inner file (``codec``: as the magic bytes say, unless given)."""
    head = src.read_at(0, 32)
    codec = codec or codec_of(head) or "unknown"
    scan = ContainerScan(codec)
    read_as_pickle_by_torch(scan, src, ctx)
    scan.observe(
        Seen.FORM_REFUSED,
        f"a {codec}-compressed file: torch.load(weights_only=True) refuses it; decompress it "
        "first (joblib.load decompresses and runs the pickle inside)",
    )
    budget = budgets.current()
    limit = min(MAX_OUTPUT, ctx.max_pickle_bytes, budget.data if budget else MAX_OUTPUT)
    sink = _Sink()
    stopped: _Error | None = None
    try:
        try:
            _decompress(codec, src, limit, sink)
        except _Error as exc:
            stopped = exc
        if budget is not None:
            budget.data -= sink.size
        if stopped is None or (sink.size and stopped.scan_output):
            # Whatever came out before a bound or a break is what a streaming loader
            # unpickles first: scan it.
            with sink.source() as inner:
                _scan_inner(scan, inner, codec, ctx)
        if stopped is not None:
            scan.observe(stopped.seen, str(stopped))
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
        self._mem = io.BytesIO()  # getvalue() hands its buffer over without a copy
        self._file: Any = None
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self._file is None and self.size <= _SPILL:
            self._mem.write(data)
            return
        if self._file is None:
            self._file = tempfile.NamedTemporaryFile(prefix="torchvet-", delete=False)  # noqa: SIM115
            self._file.write(self._mem.getbuffer())
            self._mem = io.BytesIO()
        self._file.write(data)

    @contextmanager
    def source(self) -> Iterator[ByteSource]:
        if self._file is None:
            yield BytesSource(self._mem.getvalue())
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
    from torchvet.containers.dispatch import scan_container  # the inner file: every reading

    inner_name = _strip_suffix(ctx.path.rsplit("/", 1)[-1]) or "inner"
    depth = _depth.get()
    if depth >= MAX_NESTING:
        scan.observe(
            Seen.LIMIT,
            f"compressed more than {MAX_NESTING} times over: the innermost file was not scanned",
            inner_name,
        )
        return
    token = _depth.set(depth + 1)
    try:
        inner = scan_container(src, ctx.for_path(inner_name))
    finally:
        _depth.reset(token)
    scan.format = f"{codec}:{inner.format}"
    scan.root = inner.root
    scan.inner = inner
    scan.record(Included(inner.observations, prefix=inner_name, keep_view=False, allowlist=True))


def _strip_suffix(name: str) -> str:
    lower = name.lower()
    for suffix in SUFFIXES:
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
            f"{codec}: its content was not scanned: torchvet needs the {_PACKAGES[codec]} "
            "package to decompress it (pip install " + _PACKAGES[codec] + ")",
            Seen.FORM_REFUSED,
        )
    _streams(make, _chunks(src, 0), limit, codec, sink)


def _chunks(
    src: ByteSource, start: int, step: int = _CHUNK, end: int | None = None
) -> Iterator[bytes]:
    pos = start
    end = src.size if end is None else min(end, src.size)
    while pos < end:
        data = src.read_at(pos, min(step, end - pos))
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
    """One compressed stream: zlib objects and the bz2/lzma/lz4-style ones behind one API."""

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
        return bytes(self._d.unused_data or b"")  # lz4: None when there is none

    def feed(self, data: bytes, max_out: int) -> bytes:
        if self._zlib:
            out = self._d.decompress(self._tail + data, max_out)
            self._tail = self._d.unconsumed_tail
            return bytes(out)
        return bytes(self._d.decompress(data, max_out))


class _SmallSteps:
    """The same API over a decoder whose calls have no output bound (zstandard's
    decompressobj): it is fed a few bytes at a time, so that one call's output stays
    small, and the output is handed out ``max_out`` bytes at a time."""

    def __init__(self, d: Any) -> None:
        self._d = d
        self._input = memoryview(b"")
        self._out = bytearray()

    @property
    def eof(self) -> bool:
        return bool(self._d.eof) and not self._out

    @property
    def pending(self) -> bool:
        return bool(self._out) or (bool(self._input) and not self._d.eof)

    @property
    def unused(self) -> bytes:
        return bytes(self._d.unused_data or b"") + bytes(self._input)

    def feed(self, data: bytes, max_out: int) -> bytes:
        if data:
            self._input = memoryview(bytes(self._input) + data)
        while len(self._out) < max_out and self._input and not self._d.eof:
            step, self._input = self._input[:_ZSTD_STEP], self._input[_ZSTD_STEP:]
            self._out += self._d.decompress(step)
        out = bytes(self._out[:max_out])
        del self._out[:max_out]
        return out


def _errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [OSError, EOFError, ValueError, zlib.error]
    errors += [lzma.LZMAError, RuntimeError]  # lz4.frame raises RuntimeError
    with suppress(ImportError):
        import zstandard

        errors.append(zstandard.ZstdError)
    return tuple(errors)


def _streams(
    make: Callable[[], Any], chunks: Iterator[bytes], limit: int, codec: str, out: _Sink
) -> None:
    """Concatenated compressed streams (gzip members, bz2/xz/zstd frames) into ``out``,
    at most ``limit`` bytes; raises _Error where reading stops early."""
    inp = _Input(chunks)
    errors = _errors()
    first = True
    while True:
        if not first:
            if codec == "gzip":
                inp.skip_zeros()  # gzip readers skip zero padding between members
            if inp.at_end():
                return
        try:
            raw = make()
            dec = _SmallSteps(raw) if codec == "zstd" else _Decoder(raw)
            while not dec.eof:
                data = b"" if dec.pending else inp.take()
                if not data and not dec.pending:
                    raise _Error(f"{codec} data is truncated (the stream does not end)")
                room = limit - out.size
                chunk = dec.feed(data, min(_OUT_CHUNK, room + 1))
                out.write(chunk[:room])
                if len(chunk) > room:
                    raise _Error(
                        f"read {budgets.human(out.size)} of decompressed {codec} data; the "
                        "rest was not scanned (torchvet's bound for one file: a "
                        "decompression bomb?)",
                        Seen.LIMIT,
                    )
        except errors as exc:
            if first:
                raise _decoder_problem(codec, exc) from None
            return  # bytes after the last stream that are not another stream
        inp.give_back(dec.unused)
        first = False


def _decoder_problem(codec: str, exc: BaseException) -> _Error:
    text = str(exc)
    if "memory" in text.lower() or "window" in text.lower():
        # Loaders without torchvet's memory cap may well decompress it: not malformed.
        return _Error(
            f"{codec} data asks for more decoder memory than torchvet allows ({text}); "
            "the rest was not scanned",
            Seen.LIMIT,
        )
    return _Error(f"{codec} data is corrupt: {text}")


def lzma_alone_header(head: bytes) -> bool:
    """A header liblzma's .lzma decoder accepts (what ``lzma.open``/``LZMAFile`` fall back
    to when a file is not .xz, as pandas' ``read_pickle("x.xz")`` does): properties
    below 225, a dictionary size of 2**n or 2**n + 2**(n-1), and an uncompressed size
    that is unknown or below 2**38. No magic bytes: any file may be one."""
    if len(head) < 13 or head[0] >= 225:
        return False
    dict_size = int.from_bytes(head[1:5], "little")
    size = int.from_bytes(head[5:13], "little")
    if dict_size == 0 or (size != 2**64 - 1 and size >= 2**38):
        return False
    top = dict_size.bit_length() - 1
    return dict_size in (1 << top, (1 << top) | (1 << (top - 1)) if top else 1)


def _zfile(src: ByteSource, limit: int, sink: _Sink) -> None:
    """joblib < 0.10: "ZF", the hex length padded to 19 bytes, maybe a space, zlib data."""
    header = src.read_at(0, 22)
    try:
        length = int(header[2:21], 16)
    except ValueError:
        raise _Error("joblib ZF file has an unreadable length") from None
    start = 22 if header[21:22] == b" " else 21
    _streams(lambda: zlib.decompressobj(15), _chunks(src, start), limit, "zlib", sink)
    if sink.size != length:
        # joblib checks the length before it unpickles anything.
        raise _Error(
            f"joblib ZF file holds {sink.size} bytes, not the declared {length}",
            scan_output=False,
        )


def _optional(module: str, attr: str, **kwargs: Any) -> Callable[[], Callable[[], Any] | None]:
    def factory() -> Callable[[], Any] | None:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            return None
        make = getattr(mod, attr)
        return lambda: make(**kwargs)

    return factory


def _zstd() -> Callable[[], Any] | None:
    try:
        import zstandard
    except ImportError:
        return None
    reader = zstandard.ZstdDecompressor(max_window_size=_ZSTD_WINDOW)
    return reader.decompressobj


_PACKAGES = {"lz4": "lz4", "zstd": "zstandard"}
_FACTORIES: dict[str, Callable[[], Callable[[], Any] | None]] = {
    "gzip": lambda: lambda: zlib.decompressobj(31),
    "zlib": lambda: lambda: zlib.decompressobj(15),
    "bz2": lambda: bz2.BZ2Decompressor,
    "xz": lambda: lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=_LZMA_MEMLIMIT),
    "lzma": lambda: lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE, memlimit=_LZMA_MEMLIMIT),
    "lz4": _optional("lz4.frame", "LZ4FrameDecompressor"),
    "zstd": _zstd,
}


def decompressed_head(src: ByteSource, size: int, max_input: int) -> bytes | None:
    """At most the first ``size`` decompressed bytes of a compressed file, reading at most
    ``max_input`` compressed bytes (less where the data ends or breaks); None when the
    codec is unknown or its package is missing. For detection by content."""
    codec = codec_of(src.read_at(0, 32))
    factory = _FACTORIES.get(codec or "")
    make = factory() if factory is not None else None
    if make is None or codec is None:
        return None
    sink = _Sink()
    try:
        with suppress(_Error):  # a bound, a break or the end of the input: the head so far
            _streams(make, _chunks(src, 0, _HEAD_STEP, max_input), size, codec, sink)
        with sink.source() as inner:
            return inner.read_at(0, sink.size)
    finally:
        sink.discard()
