"""Which files are model files: by extension, or by content without false alarms on text.

``torchvet scan`` reads whatever it is given. ``torchvet check`` walks a whole project,
where most files are code, data and docs, so it needs a cheaper and stricter test:

* a file whose name ends in a model extension (``.pt``, ``.bin``, ``.pkl`` …, also
  behind a compression suffix such as ``.pkl.gz``) is always a model file, whatever it
  holds: a Git LFS pointer or an HTML error page named ``model.bin`` is worth reporting;
* any other file is a model file when its bytes are one: a zip with a torch,
  TorchScript, ``torch.package``, ``torch.export`` or ``.npz`` layout (or pickle
  members), safetensors, ``.npy``, a tar in torch's pre-1.0 layout, a compressed file
  whose decompressed head is one of these, or a pickle.

Pickles need care: ``sniff`` calls a file a pickle when its first byte is an opcode,
which most text files' first letters are. So a file that does not open with a
protocol 2+ header (``\\x80`` then the protocol) is run through the symbolic machine,
without any data flow into imports or calls: it is a pickle only if the machine
reaches STOP, or reads thousands of opcodes without error, with only well-formed
global names, or records a call on a well-formed global before failing (a payload
that runs before the stream breaks is still a payload). Text fails within a line or two.
"""

from __future__ import annotations

import itertools
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import PurePath

from torchvet.containers.buffers import Buffer, TooLarge, whole
from torchvet.containers.compressed import SUFFIXES as COMPRESSION_SUFFIXES
from torchvet.containers.compressed import decompressed_head
from torchvet.containers.sniff import codec_of, sniff
from torchvet.containers.zipfamily import classify
from torchvet.containers.zipreader import ZipError, read_archive
from torchvet.pickle.genops import iter_ops
from torchvet.pickle.machine import Limits, Machine, Naming
from torchvet.pickle.models import Knowledge
from torchvet.pickle.opcodes import BY_CODE
from torchvet.pickle.readers import DecodeError
from torchvet.pickle.trace import CallEvent, GlobalRef, Issue, IssueKind
from torchvet.source import ByteSource, BytesSource, FileSource, SourceFile

# Extensions of files that torch, pickle, joblib, numpy or safetensors load.
MODEL_SUFFIXES = frozenset(
    {
        ".pt",
        ".pth",
        ".pt2",
        ".ptl",
        ".bin",
        ".ckpt",
        ".pkl",
        ".pickle",
        ".joblib",
        ".dill",
        ".safetensors",
        ".npy",
        ".npz",
    }
)
# Names of the members of torch's pre-1.0 tar checkpoints.
_TORCH_TAR_MEMBERS = frozenset({"pickle", "storages", "tensors", "sys_info"})
_PICKLE_MEMBER_SUFFIXES = (".pkl", ".pickle")  # members other loaders unpickle
_ARRAY_MEMBER_SUFFIXES = (*_PICKLE_MEMBER_SUFFIXES, ".npy")
PROBE_BYTES = 64 << 10  # decompressed head read from a compressed file
_PROBE_OPS = 20_000  # this many opcodes without an error: a pickle, whatever follows
_MAX_STREAMS = 16  # consecutive protocol 0/1 pickles checked
_MAX_COMPRESSED_INPUT = 4 << 20  # compressed bytes read to produce that head
_TAR_MEMBERS_LISTED = 64
_ZIP_MEMBERS_PROBED = 100_000
NPY_MAGIC = b"\x93NUMPY"
_DOTTED_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")


def has_model_suffix(name: str) -> bool:
    """``model.pt``, ``weights.pkl.gz``: a model extension, maybe behind a compression one."""
    suffixes = [s.lower() for s in PurePath(name).suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes.pop()
    return bool(suffixes) and suffixes[-1] in MODEL_SUFFIXES


def model_reason(path: str) -> str | None:
    """Why ``path`` is a model file ("extension" or the format found), or None.

    Never raises: a file that cannot be read is a model file only by its name.
    """
    if has_model_suffix(path):
        return "extension"
    try:
        with FileSource(path) as src:
            return content_kind(src)
    except (OSError, ValueError):
        return None


def content_kind(src: ByteSource) -> str | None:
    """The model format ``src`` holds ("torch-zip", "pickle", …), or None.

    Whatever the format, a file that some loader would unpickle (a pickle from byte 0
    behind a GIF or tar header, a zip whose lone member or ``.npy``-like member numpy
    or pandas unpickles) is reported as one: its name does not protect anyone."""
    fmt = sniff(src)
    kind: str | None = None
    if fmt == "zip":
        kind = _zip_kind(src)
    elif fmt in ("npy", "safetensors"):
        kind = fmt
    elif fmt == "tar":
        kind = "tar" if _tar_is_model(_TarHead(src)) else None
    elif fmt == "compressed":
        kind = _compressed_kind(src)
    elif fmt == "pickle":
        kind = "pickle" if _is_pickle(src) else None
    if kind is None and fmt not in ("pickle", "empty") and _pickle_from_byte_zero(src):
        kind = "pickle"
    if kind is None and _unpickled_by_zipfile(src):
        kind = "zip"
    return kind


# ---------------------------------------------------------------------------- zip
def _zip_kind(src: ByteSource) -> str | None:
    try:
        archive = read_archive(src, max_entries=100_000)
    except ZipError:
        # A damaged archive: its first local header still names its first member.
        return "zip" if _first_member_is_model(src.read_at(0, 1024)) else None
    if not archive.entries:
        return None
    kind = classify(archive)
    if kind != "other":
        return f"{kind}-zip"
    names = (e.name.lower() for e in archive.entries)
    return "zip" if any(n.endswith(_PICKLE_MEMBER_SUFFIXES) for n in names) else None


def _first_member_is_model(head: bytes) -> bool:
    """Does a zip local header at the start of ``head`` name a pickle or array member?"""
    if len(head) < 30 or not head.startswith(b"PK\x03\x04"):
        return False
    (name_len,) = struct.unpack_from("<H", head, 26)
    name = head[30 : 30 + name_len].decode("utf-8", "replace").lower()
    return name.endswith(_ARRAY_MEMBER_SUFFIXES)


def _unpickled_by_zipfile(src: ByteSource) -> bool:
    """Would numpy (a member that starts like an .npy) or pandas (a lone member) unpickle
    something from this file as Python's zipfile reads it (end record anywhere)?"""
    try:
        archive = zipfile.ZipFile(SourceFile(src))
        infos = archive.infolist()[:_ZIP_MEMBERS_PROBED]
        for info in infos:
            with archive.open(info) as member:
                head = member.read(len(NPY_MAGIC) if len(infos) > 1 else PROBE_BYTES)
            if head.startswith(NPY_MAGIC) or (len(infos) == 1 and _names_a_global(head)):
                return True
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        return False
    except (zlib.error, lzma.LZMAError):
        return False
    return False


# ---------------------------------------------------------------------------- tar
class _TarHead:
    """A file object over a source, for tarfile to list member headers."""

    def __init__(self, src: ByteSource) -> None:
        self.src = src
        self.pos = 0

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self.src.size - self.pos
        data = self.src.read_at(self.pos, n)
        self.pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.pos, 2: self.src.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos


def _tar_is_model(fileobj: _TarHead) -> bool:
    names: list[str] = []
    try:
        with tarfile.open(fileobj=fileobj, mode="r:") as tar:  # type: ignore[call-overload]
            for member in tar:
                names.append(member.name)
                if len(names) >= _TAR_MEMBERS_LISTED:
                    break
    except (tarfile.TarError, OSError, ValueError, EOFError):
        pass  # a head cut short: the members listed so far are enough
    return _names_are_model(names)


def _names_are_model(names: Iterable[str]) -> bool:
    for name in names:
        base = PurePath(name).name.lower()
        if base in _TORCH_TAR_MEMBERS or base.endswith(_PICKLE_MEMBER_SUFFIXES):
            return True
    return False


# ---------------------------------------------------------------------------- compressed
def _compressed_kind(src: ByteSource) -> str | None:
    codec = codec_of(src.read_at(0, 32))
    if codec == "joblib-zfile":
        return "compressed"  # joblib's own pre-0.10 format: always a pickle inside
    head = decompressed_head(src, PROBE_BYTES, _MAX_COMPRESSED_INPUT)
    if head is None:
        return None
    return "compressed" if _head_is_model(head) else None


def _head_is_model(head: bytes) -> bool:
    """Is a decompressed head (maybe cut short) the start of a model file?"""
    if head.startswith(b"PK\x03\x04"):
        return _first_member_is_model(head)
    if head.startswith(b"\x93NUMPY"):
        return True
    src = BytesSource(head)
    fmt = sniff(src)
    if fmt == "tar":
        return _tar_is_model(_TarHead(src))
    return fmt == "pickle" and _is_pickle(src)


# ---------------------------------------------------------------------------- pickle
def _pickle_from_byte_zero(src: ByteSource) -> bool:
    """A file of another format whose bytes are also a pickle that names a global
    (``pickle.load`` reads from byte 0, whatever the magic says)."""
    return _names_a_global(src.read_at(0, PROBE_BYTES))


def _names_a_global(head: bytes) -> bool:
    if not head or BY_CODE[head[0]] is None:
        return False
    machine = Machine(
        head, "", _IDENTITY, limits=Limits(max_ops=_PROBE_OPS), knowledge=_knowledge()
    )
    trace = machine.run()
    return any(isinstance(e, GlobalRef) and _well_formed(e.raw) for e in trace.events)


def _is_pickle(src: ByteSource) -> bool:
    head = src.read_at(0, 2)
    if head[:1] == b"\x80" and len(head) == 2 and 2 <= head[1] <= 5:
        return True  # a protocol 2+ header: no text file starts with byte 0x80
    try:
        # Mapped, not read: only the pages the opcodes touch are loaded.
        with whole(src, PROBE_BYTES) as buf:
            return _decodes_as_pickle(buf)
    except (TooLarge, OSError, ValueError):
        return False


def _decodes_as_pickle(buf: Buffer) -> bool:
    """For a file without a protocol 2+ header: protocol 0 and 1 pickles are text-like,
    and text often decodes to a STOP by chance ("G" reads 8 bytes as a float, then
    "." is STOP), so a pickle must also end where the file ends or another pickle
    starts, hold exactly one object at STOP, and use no opcode newer than protocol 1."""
    start = 0
    for _ in range(_MAX_STREAMS):
        decided, end = _one_stream(buf, start)
        if decided is not None:
            return decided
        if end >= len(buf) or buf[end] == 0x80:  # the end, or a protocol 2+ pickle next
            return True
        start = end
    return True


def _one_stream(buf: Buffer, start: int) -> tuple[bool | None, int]:
    """(True or False if decided, None if it stopped cleanly; where it ended)."""
    machine = Machine(
        buf, "", _IDENTITY, limits=Limits(max_ops=_PROBE_OPS), start=start, knowledge=_knowledge()
    )
    trace = machine.run()
    if trace.straddles:  # C reads it otherwise over a file (frames.py): no text does that
        return True, trace.end
    called = failed = False
    for event in trace.events:
        if isinstance(event, GlobalRef) and not _well_formed(event.raw):
            return False, trace.end
        if isinstance(event, CallEvent):
            called = True
        elif isinstance(event, Issue) and event.kind is IssueKind.DECODE:
            failed = True
    if called:
        return True, trace.end  # a payload runs even if the stream breaks after it
    if failed:
        return False, trace.end
    if not trace.stopped:
        return True, trace.end  # thousands of opcodes without an error: not text
    clean = not machine.stack and not machine.metastack
    if not clean or _newest_protocol(buf, start) > 1:
        return False, trace.end
    return None, trace.end


def _newest_protocol(buf: Buffer, pos: int) -> int:
    """The newest protocol among the opcodes from ``pos`` up to STOP."""
    newest = 0
    try:
        for op, _, _, _ in itertools.islice(iter_ops(buf, pos), _PROBE_OPS):
            newest = max(newest, op.proto)
    except DecodeError:
        pass
    return newest


def _well_formed(raw: tuple[str, str]) -> bool:
    module, name = raw
    return bool(_DOTTED_NAME.match(module)) and bool(_DOTTED_NAME.match(name))


# Names are checked for form only: no mapping, and no torch release's facts needed.
_IDENTITY = Naming({}, {})


@lru_cache(maxsize=1)
def _knowledge() -> Knowledge:
    return Knowledge()
