"""Byte-level writers for the red-team files: zips whose headers disagree, legacy torch
files, tars with links. Nothing here unpickles or imports torch.

The zip writer is written by hand (Python's ``zipfile`` keeps its headers consistent,
which is exactly what these files must not be); it uses ``zipfile``'s own compressors
so every member is decompressible by the readers under test.
"""

from __future__ import annotations

import bz2
import io
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from tests.corpus.pickle_asm import Asm

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
_DOS_DATE = (1 << 5) | 1  # 1980-01-01, so the bytes never depend on the clock
_VERSION_NEEDED = {STORED: 20, DEFLATED: 20, BZIP2: 46, LZMA: 63}


def compress(method: int, data: bytes) -> bytes:
    """Member data as a zip reader expects it for ``method``."""
    if method == STORED:
        return data
    if method == DEFLATED:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        return packer.compress(data) + packer.flush()
    if method == BZIP2:
        return bz2.compress(data)
    if method == LZMA:
        packer = zipfile.LZMACompressor()  # type: ignore[attr-defined]  # zip's LZMA framing
        return packer.compress(data) + packer.flush()
    raise ValueError(f"unknown zip method {method}")


@dataclass
class Member:
    """One zip record. The ``local_*`` fields, when set, make the local header say
    something else than the central directory (which every real reader trusts for
    sizes and method, while taking the data offset from the local header)."""

    name: str
    data: bytes
    method: int = STORED
    local_name: str | None = None
    local_extra: bytes = b""
    central_extra: bytes = b""
    local_sizes: tuple[int, int] | None = None  # (compressed, uncompressed)
    local_method: int | None = None


def extra_field(size: int, header_id: int = 0xCAFE) -> bytes:
    """A well-formed extra field of ``size`` bytes in all (unknown id, zeros)."""
    return struct.pack("<HH", header_id, size - 4) + b"\x00" * (size - 4)


def _local_header(m: Member, packed: bytes, crc: int) -> bytes:
    name = (m.local_name if m.local_name is not None else m.name).encode()
    method = m.method if m.local_method is None else m.local_method
    csize, usize = m.local_sizes or (len(packed), len(m.data))
    flags = 0x02 if m.method == LZMA else 0
    return (
        struct.pack(
            "<4sHHHHHIIIHH",
            b"PK\x03\x04",
            _VERSION_NEEDED[m.method],
            flags,
            method,
            0,
            _DOS_DATE,
            crc,
            csize,
            usize,
            len(name),
            len(m.local_extra),
        )
        + name
        + m.local_extra
    )


def _central_header(m: Member, packed: bytes, crc: int, offset: int) -> bytes:
    name = m.name.encode()
    flags = 0x02 if m.method == LZMA else 0
    fixed = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        20,
        _VERSION_NEEDED[m.method],
        flags,
        m.method,
        0,
        _DOS_DATE,
        crc,
        len(packed),
        len(m.data),
        len(name),
        len(m.central_extra),
        0,
        0,
        0,
        0,
        offset,
    )
    return fixed + name + m.central_extra


def build_zip(
    members: Sequence[Member],
    *,
    prefix: bytes = b"",
    shift_offsets: bool = True,
    central_order: Sequence[int] | None = None,
) -> bytes:
    """A zip of ``members`` after ``prefix``.

    ``shift_offsets``: offsets count the prefix (as ``zip -A`` writes them); when
    False they are relative to the first local header, which Python's zipfile
    compensates for and other readers may not. ``central_order``: indexes of members
    in central-directory order (default: local order).
    """
    out = bytearray(prefix)
    base = 0 if shift_offsets else len(prefix)
    centrals = []
    for m in members:
        packed = compress(m.method, m.data)
        crc = zlib.crc32(m.data)
        offset = len(out) - base
        out += _local_header(m, packed, crc) + packed
        centrals.append(_central_header(m, packed, crc, offset))
    order = range(len(members)) if central_order is None else central_order
    cd_start = len(out) - base
    directory = b"".join(centrals[i] for i in order)
    out += directory
    count = len(list(order))
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), cd_start, 0)
    return bytes(out)


# -- torch's zip format ----------------------------------------------------------------
def torch_zip_members(data_pkl: bytes, archive: str = "archive") -> list[Member]:
    """The records torch.load needs for a checkpoint without tensors."""
    return [
        Member(f"{archive}/data.pkl", data_pkl),
        Member(f"{archive}/byteorder", b"little"),
        Member(f"{archive}/version", b"3\n"),
    ]


def benign_pickle() -> bytes:
    """A small state-like dict that torch.load(weights_only=True) accepts."""
    return pickle.dumps({"epoch": 3, "lr": 0.1, "names": ["fc", "out"]}, protocol=2)


# -- torch's legacy format -------------------------------------------------------------
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
SYS_INFO = {
    "protocol_version": 1001,
    "little_endian": True,
    "type_sizes": {"short": 2, "int": 4, "long": 4},
}


def legacy_main(numel: int, key: str = "0", storage: str = "FloatStorage") -> bytes:
    """Pickle 4 of a legacy file: ``{"w": tensor}`` over storage ``key`` of ``numel``."""
    a = Asm(2).empty_dict().string("w")
    a.global_("torch._utils", "_rebuild_tensor_v2").mark()
    a.mark().string("storage").global_("torch", storage).string(key).string("cpu")
    a.int_(numel).none().tuple().binpersid()
    a.int_(0).value((numel,)).value((1,)).bool_(False)
    a.global_("collections", "OrderedDict").empty_tuple().reduce()
    a.tuple().reduce().setitem()
    return a.stop().bytes()


def legacy_slots(numel: int = 2, itemsize: int = 4) -> list[bytes]:
    """The five pickles of a legacy file holding one float tensor, in order."""
    return [
        pickle.dumps(MAGIC_NUMBER, protocol=2),
        pickle.dumps(PROTOCOL_VERSION, protocol=2),
        pickle.dumps(SYS_INFO, protocol=2),
        legacy_main(numel),
        pickle.dumps(["0"], protocol=2),
    ]


def legacy_file(slots: Sequence[bytes], numel: int = 2, itemsize: int = 4) -> bytes:
    """Pickles then the storage record (8-byte element count, then the elements)."""
    return b"".join(slots) + struct.pack("<q", numel) + b"\x00" * (numel * itemsize)


# -- tar -------------------------------------------------------------------------------
@dataclass
class TarEntry:
    name: str
    data: bytes = b""
    link: str | None = None  # target of a link
    symlink: bool = False  # a symbolic link (else, with ``link``, a hard link)


def build_tar(entries: Sequence[TarEntry], fmt: int = tarfile.GNU_FORMAT) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.mtime = 0
            if e.link is not None:
                info.type = tarfile.SYMTYPE if e.symlink else tarfile.LNKTYPE
                info.linkname = e.link
                tar.addfile(info)
            else:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
    return out.getvalue()


# -- numpy -----------------------------------------------------------------------------
def npy_header(
    descr: str = "'|O'",
    shape: str = "(1,)",
    version: tuple[int, int] = (1, 0),
    text: str | None = None,
) -> bytes:
    """An .npy header; ``descr`` and ``shape`` are Python literals as numpy writes them
    (``text``: the whole header dictionary, spelt by the caller)."""
    if text is None:
        text = f"{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}"
    size_bytes = 2 if version == (1, 0) else 4
    prefix = 6 + 2 + size_bytes
    pad = -(prefix + len(text) + 1) % 64
    header = (text + " " * pad + "\n").encode("latin-1")
    size = struct.pack("<H" if size_bytes == 2 else "<I", len(header))
    return b"\x93NUMPY" + bytes(version) + size + header


def npy_object(pickled: bytes, **header: object) -> bytes:
    """An object-dtype .npy: numpy.load(allow_pickle=True) unpickles what follows the header."""
    return npy_header(**header) + pickled  # type: ignore[arg-type]


def npy_floats(count: int = 3) -> bytes:
    return npy_header("'<f8'", f"({count},)") + struct.pack(f"<{count}d", *range(count))
