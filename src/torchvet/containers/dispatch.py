"""Every reading a real loader could take of one file; the worst wins.

``torch.load`` picks its reading by content (zip magic: torch's zip; a tar header that
``tarfile`` accepts: the pre-1.0 tar; anything else: the legacy pickle format). That is
the *primary* reading: it decides whether ``torch.load(weights_only=True)`` accepts the
file, and gives the format, torch's error and the advice. Other loaders read the same
bytes differently, and an attacker hides a payload where only they look:

* ``pickle.load`` (and ``numpy.load``'s fallback, ``pandas.read_pickle``, ``joblib.load``
  and a loop calling ``pickle.load`` until EOF) reads concatenated pickles from byte 0,
  whatever the first bytes look like (an ELF or GIF header, ``BZh``, a tar header);
* Python's ``zipfile`` (numpy's ``.npz``, pandas' ``.zip``) finds a zip by its end
  record, so prepended bytes shift nothing for it, it reads LZMA and bzip2 members that
  torch refuses, numpy unpickles any member whose bytes start like an object array, and
  pandas unpickles the member of a one-member archive.

Each secondary reading contributes only what can run code or what stopped torchvet
(``policy.readings`` weighs it). A reading that raises keeps every observation made
before the error, plus a LIMIT observation: an error is an observation, never a reason
to drop what was found.
"""

from __future__ import annotations

import lzma
import os
import struct
import zipfile
import zlib
from collections.abc import Callable

from torchvet.containers import (
    compressed,
    legacy,
    numpy_files,
    rawpickle,
    safetensors_files,
    tarball,
    zipfamily,
)
from torchvet.containers.base import ContainerScan, ScanContext, collecting_scans
from torchvet.containers.buffers import TooLarge, whole
from torchvet.containers.sniff import describe_not_model, sniff
from torchvet.observations import Included, Seen
from torchvet.pickle.opcodes import BY_CODE
from torchvet.source import ByteSource, BytesSource, FileSource, SourceFile

# Views, as findings name them.
TORCH_VIEW = "torch.load"
PICKLE_VIEW = "pickle.load"
ZIPFILE_VIEW = "zipfile"
LZMA_VIEW = "lzma.open"  # pandas' .xz: an .lzma stream needs no magic bytes

_MAX_ZIP_MEMBERS = 100_000
_NPY_HEAD = 1 << 16
_FIRST_WINDOW = 4 << 10

Reader = Callable[[ByteSource, ScanContext], ContainerScan]
_FORMAT_READERS: dict[str, Reader] = {
    "zip": zipfamily.scan_any_zip,
    "pickle": legacy.scan_pickle_or_legacy,
    "tar": tarball.scan_tar,
    "npy": numpy_files.scan_npy,
    "safetensors": safetensors_files.scan_safetensors,
    "compressed": compressed.scan_compressed,
}


def scan_container(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    """Read one source every way a real loader could; merge into the primary reading."""
    primary = guarded(TORCH_VIEW, src, ctx, _torch_reading)
    if _starts_like_pickle(src) and not primary.read_as_plain_pickles:
        primary.absorb(guarded(PICKLE_VIEW, src, ctx, _pickle_reading), PICKLE_VIEW)
    if _has_zip_end_record(src):
        primary.absorb(guarded(ZIPFILE_VIEW, src, ctx, _zipfile_reading), ZIPFILE_VIEW)
    if not primary.format.startswith(("lzma", "xz")) and compressed.lzma_alone_header(
        src.read_at(0, 13)
    ):
        primary.absorb(guarded(LZMA_VIEW, src, ctx, _lzma_alone_reading), LZMA_VIEW)
    return primary


def _lzma_alone_reading(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    return compressed.scan_compressed(src, ctx, codec="lzma")


def guarded(view: str, src: ByteSource, ctx: ScanContext, reading: Reader) -> ContainerScan:
    """Run one reading; if it raises, keep what every scan it opened had found."""
    with collecting_scans() as opened:
        try:
            return reading(src, ctx)
        except (RecursionError, MemoryError) as exc:
            reason = f"the file exceeds torchvet's resource bounds ({type(exc).__name__})"
        except Exception as exc:
            # A bug in torchvet must never turn into a traceback or a "safe".
            # TORCHVET_DEBUG=1 (set by the test suite) re-raises so that bugs are seen.
            if os.environ.get("TORCHVET_DEBUG"):
                raise
            reason = f"torchvet could not finish reading it ({type(exc).__name__}: {exc})"
    partial = ContainerScan(opened[0].format if opened else "unknown")
    for scan in opened:
        partial.record(Included(scan.observations, torch_error=True))
    partial.observe(
        Seen.LIMIT,
        f"as {view} reads it, {reason}; what was read before is judged, the rest is not "
        "(please report this file)",
    )
    return partial


# -- torch.load's reading --------------------------------------------------------------
def _torch_reading(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    fmt = sniff(src)
    if fmt == "empty":
        scan = ContainerScan("empty")
        scan.observe(Seen.NOT_A_MODEL, "empty file")
        scan.torch_fails("EOFError: Ran out of input")
        return scan
    reader = _FORMAT_READERS.get(fmt)
    if reader is not None:
        return reader(src, ctx)
    scan = ContainerScan("not-a-model")
    scan.observe(Seen.NOT_A_MODEL, f"not a model file: {describe_not_model(src)}")
    scan.torch_fails(f"Unsupported operand {src.read_at(0, 1)[0]}")
    return scan


# -- pickle.load's reading -------------------------------------------------------------
def _starts_like_pickle(src: ByteSource) -> bool:
    head = src.read_at(0, 1)
    return bool(head) and BY_CODE[head[0]] is not None


def _pickle_reading(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    """Concatenated pickles from byte 0, as a loop of ``pickle.load`` calls reads them."""
    if not isinstance(src, FileSource):
        # Most files stop being a pickle within a few bytes: over a remote source, read
        # growing windows, and go on only while the pickles run to a window's end.
        window = _FIRST_WINDOW
        while window < src.size:
            scan = ContainerScan("pickle")
            head = src.read_at(0, window)
            end = rawpickle.scan_pickle_streams(head, ctx, scan, "", torch_reads_first=False)
            if end < len(head):
                return scan
            window *= 16
    scan = ContainerScan("pickle")
    try:
        with whole(src, ctx.max_pickle_bytes) as buf:
            rawpickle.scan_pickle_streams(buf, ctx, scan, "", torch_reads_first=False)  # type: ignore[arg-type]
    except TooLarge as exc:
        scan.observe(Seen.LIMIT, f"not read as a pickle: {exc}")
    return scan


# -- Python's zipfile reading (numpy .npz, pandas .zip) ---------------------------------
def _has_zip_end_record(src: ByteSource) -> bool:
    try:
        return zipfile.is_zipfile(SourceFile(src))
    except (zipfile.BadZipFile, OSError, ValueError):
        return True  # an end record zipfile refuses: the full reading says how


def _zipfile_reading(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    scan = ContainerScan("zip")
    try:
        archive = zipfile.ZipFile(SourceFile(src))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return scan  # zipfile refuses it: numpy and pandas fail too
    infos = archive.infolist()
    if len(infos) > _MAX_ZIP_MEMBERS:
        scan.observe(Seen.LIMIT, f"{len(infos)} zip members; the first {_MAX_ZIP_MEMBERS} read")
    single = len(infos) == 1  # pandas.read_pickle unpickles the only member
    for info in infos[:_MAX_ZIP_MEMBERS]:
        if not info.is_dir():
            _zip_member(scan, src, archive, info, ctx, single)
    return scan


def _zip_member(
    scan: ContainerScan,
    src: ByteSource,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    ctx: ScanContext,
    single: bool,
) -> None:
    head = _peek(src, archive, info, _PEEK)
    if not head or not (
        head.startswith(numpy_files.MAGIC) or (single and BY_CODE[head[0]] is not None)
    ):
        return  # numpy returns such a member as raw bytes; pandas reads only a lone member
    head = _member_bytes(scan, archive, info, _NPY_HEAD)
    if not head:
        return
    if head.startswith(numpy_files.MAGIC):
        try:
            has_object = numpy_files.parse_header(head).has_object
        except numpy_files.NpyError:
            return  # numpy refuses it too
        if has_object is False:
            return
    elif not (single and BY_CODE[head[0]] is not None):
        return  # numpy returns such a member as raw bytes; pandas reads only a lone member
    data = head
    if len(head) >= _NPY_HEAD:
        data = _member_bytes(scan, archive, info, ctx.max_decompressed, whole_member=True)
    if head.startswith(numpy_files.MAGIC):
        numpy_files.scan_npy_into(scan, BytesSource(data, info.filename), ctx, info.filename)
    else:
        rawpickle.scan_pickle_streams(data, ctx, scan, info.filename, torch_reads_first=False)


def _peek(src: ByteSource, archive: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> bytes:
    """The first ``n`` bytes of a member, with zipfile's own checks of the local header
    but only a few hundred bytes read: deciding what a member is must not cost a range
    request per kilobyte of a remote checkpoint (zipfile's reader reads 4 KiB at least).
    Members zipfile would read another way (encrypted, LZMA, bzip2) go through it."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) or (
        info.flag_bits & _LOCAL_REFUSED
    ):
        return _member_bytes(ContainerScan("peek"), archive, info, n)
    if info.header_offset < 0 or info.header_offset >= src.size:
        return b""  # zipfile cannot seek there either
    name_len = len(info.orig_filename.encode("utf-8")) + 64
    data = src.read_at(info.header_offset, _LOCAL.size + name_len + 64 + n)
    if len(data) < _LOCAL.size or data[:4] != b"PK\x03\x04":
        return b""  # zipfile: "Bad magic number for file header"
    fields = _LOCAL.unpack_from(data)
    start = _LOCAL.size + fields[9] + fields[10]
    raw_name = data[_LOCAL.size : _LOCAL.size + fields[9]]
    if len(data) < start + min(n, info.compress_size):
        data = src.read_at(info.header_offset, start + min(n, info.compress_size))
        raw_name = data[_LOCAL.size : _LOCAL.size + fields[9]]
    encoding = "utf-8" if fields[2] & 0x800 else (archive.metadata_encoding or "cp437")
    try:
        if raw_name.decode(encoding) != info.orig_filename:
            return b""  # zipfile: "File name in directory and header differ"
    except UnicodeDecodeError:
        return b""
    body = data[start : start + min(info.compress_size, n if info.compress_type == 0 else 4 * n)]
    if info.compress_type == zipfile.ZIP_STORED:
        return body[: min(n, info.file_size)]
    try:
        return zlib.decompressobj(-15).decompress(body, n)
    except zlib.error:
        return b""


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
# Flags with which zipfile refuses to read or needs a password.
_LOCAL_REFUSED = 0x1 | 0x20 | 0x40
_PEEK = 16


# Errors of a member that stops early: a corrupt stream (zlib.error, lzma.LZMAError and
# bz2's OSError), an unsupported method or encryption, a truncated file, a header that
# does not decode (UnicodeDecodeError).
_MEMBER_ERRORS = (
    zipfile.BadZipFile,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
)


def _member_bytes(
    scan: ContainerScan,
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limit: int,
    whole_member: bool = False,
) -> bytes:
    """Up to ``limit`` decompressed bytes of one member, read as numpy and pandas read it.

    A loader consumes what it reads before zipfile checks the CRC at the end of the
    member, so a bad CRC or a stream that breaks keeps what came before it."""
    out = bytearray()
    more = False
    try:
        with archive.open(info) as member:
            member._expected_crc = None  # type: ignore[attr-defined]  # see the docstring
            while len(out) < limit:
                chunk = member.read(min(1 << 20, limit - len(out)))
                if not chunk:
                    break
                out += chunk
            more = whole_member and len(out) >= limit and member.read(1) != b""
    except (*_MEMBER_ERRORS, zlib.error, lzma.LZMAError) as exc:
        if out and whole_member:
            scan.observe(Seen.NOTE, f"member stops after {len(out)} bytes: {exc}", info.filename)
    if more:
        scan.observe(
            Seen.LIMIT,
            f"read the first {limit} decompressed bytes of this member; the rest was not scanned",
            info.filename,
        )
    return bytes(out)
