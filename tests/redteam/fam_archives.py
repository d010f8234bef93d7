"""Tars and compressed pickles, read the way ``tarfile``, pandas and joblib read them.

* ``tar`` (class 3): torch's pre-1.0 tar checkpoints (torch unpickles the
  ``storages``, ``tensors`` and ``pickle`` members, through links as ``tarfile``
  resolves them: ``extract`` copies a hard link's target, ``extractfile`` follows
  both kinds), duplicate members (``tarfile`` takes the last), PAX path overrides,
  and one-member tars that ``pandas.read_pickle('x.tar')`` unpickles.
* ``compressed`` (classes 3 and 5): pickles behind gzip, bz2, xz, lzma, zstd and zlib,
  including multi-member streams that split the pickle across members, zstd
  skippable frames and raw-LZMA headers with unusual properties. pandas picks the
  codec from the file name, joblib from the magic bytes.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterable

from tests.redteam import builders as B
from tests.redteam.builders import TarEntry
from tests.redteam.cases import family, rotate
from tests.redteam.payloads import pickle_bytes

ZERO = pickle.dumps(0, protocol=2)
EMPTY_LIST = pickle.dumps([], protocol=2)


def _torch_tar(
    storages: bytes,
    tensors: bytes,
    main: bytes,
    extra: list[TarEntry] | None = None,
    links: dict[str, str] | None = None,
) -> bytes:
    """A torch tar checkpoint; ``links`` maps a member name to a link target ("hard:x"
    or "sym:x") that replaces that member."""
    entries = list(extra or [])
    links = links or {}
    for name, data in (("storages", storages), ("tensors", tensors), ("pickle", main)):
        target = links.get(name)
        if target is None:
            entries.append(TarEntry(name, data))
        else:
            kind, _, dest = target.partition(":")
            entries.append(TarEntry(name, link=dest, symlink=kind == "sym"))
    return B.build_tar(entries)


_OK_STORAGES = ZERO + EMPTY_LIST  # no storages, no views
_BENIGN_MAIN = pickle.dumps({"epoch": 1}, protocol=2)


def _pax_renamed(payload: str) -> bytes:
    """The ``pickle`` member's ustar name says "notes"; a PAX header renames it."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (
            ("storages", _OK_STORAGES),
            ("tensors", ZERO),
            ("notes", pickle_bytes(payload)),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            if name == "notes":
                info.pax_headers = {"path": "pickle"}
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _single_member(payload: str, mode: str, name: str = "data.pkl") -> bytes:
    data = pickle_bytes(payload)
    out = io.BytesIO()
    with tarfile.open(
        fileobj=out, mode=f"w:{mode}" if mode else "w", format=tarfile.GNU_FORMAT
    ) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), 0
        tar.addfile(info, io.BytesIO(data))
    raw = out.getvalue()
    return raw if mode != "gz" else _fixed_gzip_time(raw)


def _pax_size_override(payload: str) -> bytes:
    """One member whose ustar size field says 0; a PAX header gives the real size,
    which tarfile uses."""
    data = pickle_bytes(payload)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("data.pkl")
        info.size, info.mtime = len(data), 0
        info.pax_headers = {"size": str(len(data))}
        tar.addfile(info, io.BytesIO(data))
    raw = bytearray(out.getvalue())
    header = raw.index(b"data.pkl\x00", 512)  # the member's own ustar header
    raw[header + 124 : header + 136] = b"00000000000\x00"
    raw[header + 148 : header + 156] = b" " * 8
    checksum = sum(raw[header : header + 512])
    raw[header + 148 : header + 156] = b"%06o\x00 " % checksum
    return bytes(raw)


def _fixed_gzip_time(data: bytes) -> bytes:
    return data[:4] + b"\x00\x00\x00\x00" + data[8:]


TARS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "torch-storages": (lambda p: _torch_tar(pickle_bytes(p), ZERO, _BENIGN_MAIN), "old.tar"),
    "torch-storage-views": (
        lambda p: _torch_tar(ZERO + pickle_bytes(p), ZERO, _BENIGN_MAIN),
        "old.tar",
    ),
    "torch-tensors": (lambda p: _torch_tar(_OK_STORAGES, pickle_bytes(p), _BENIGN_MAIN), "old.tar"),
    "torch-pickle": (lambda p: _torch_tar(_OK_STORAGES, ZERO, pickle_bytes(p)), "old.tar"),
    "torch-pickle-symlink": (
        lambda p: _torch_tar(
            _OK_STORAGES, ZERO, b"", [TarEntry("blob", pickle_bytes(p))], {"pickle": "sym:blob"}
        ),
        "old.tar",
    ),
    "torch-pickle-hardlink": (
        lambda p: _torch_tar(
            _OK_STORAGES, ZERO, b"", [TarEntry("blob", pickle_bytes(p))], {"pickle": "hard:blob"}
        ),
        "old.tar",
    ),
    "torch-storages-hardlink": (
        lambda p: _torch_tar(
            b"", ZERO, _BENIGN_MAIN, [TarEntry("blob", pickle_bytes(p))], {"storages": "hard:blob"}
        ),
        "old.tar",
    ),
    "torch-duplicate-pickle-last": (
        lambda p: B.build_tar(
            [
                TarEntry("storages", _OK_STORAGES),
                TarEntry("tensors", ZERO),
                TarEntry("pickle", _BENIGN_MAIN),
                TarEntry("pickle", pickle_bytes(p)),
            ]
        ),
        "old.tar",
    ),
    "torch-pax-path": (_pax_renamed, "old.tar"),
    "pandas-single-member": (lambda p: _single_member(p, ""), "frame.tar"),
    "pandas-single-member-gz": (lambda p: _single_member(p, "gz"), "frame.tar.gz"),
    "pandas-single-member-bz2": (lambda p: _single_member(p, "bz2"), "frame.tar.bz2"),
    "pandas-single-member-xz": (lambda p: _single_member(p, "xz"), "frame.tar.xz"),
    "pandas-single-member-named-txt": (lambda p: _single_member(p, "", "notes.txt"), "frame.tar"),
    "pandas-pax-size-override": (_pax_size_override, "frame.tar"),
}


@family("tar", 3, "tar members as tarfile resolves them, and one-member tars for pandas")
def tars(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(TARS), full):
        build, fname = TARS[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))


# -- compressed pickles --------------------------------------------------------------------
def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


def _split(codec: Callable[[bytes], bytes]) -> Callable[[bytes], bytes]:
    """Two members/streams/frames, the pickle cut in the middle of the payload."""

    def packed(data: bytes) -> bytes:
        half = len(data) // 2
        return codec(data[:half]) + codec(data[half:])

    return packed


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _gzip_header_fields(data: bytes) -> bytes:
    """FEXTRA, FNAME and FCOMMENT set: the deflate data starts further on."""
    raw = _gzip(data)
    header = bytearray(raw[:10])
    header[3] = 0x04 | 0x08 | 0x10
    extra = struct.pack("<H", 6) + b"AB\x02\x00zz"
    return bytes(header) + extra + b"model.pkl\x00" + b"a comment\x00" + raw[10:]


def _zstd_skippable_first(data: bytes) -> bytes:
    skippable = struct.pack("<II", 0x184D2A50, 8) + b"metadata"
    return skippable + _zstd(data)


def _lzma_alone_props0(data: bytes) -> bytes:
    filters = [{"id": lzma.FILTER_LZMA1, "lc": 0, "lp": 0, "pb": 0}]
    return lzma.compress(data, format=lzma.FORMAT_ALONE, filters=filters)


def _joblib_zfile(hex_prefix: bool) -> Callable[[bytes], bytes]:
    """joblib's pre-0.10 format: "ZF", the length in hex padded to 19 bytes, zlib data.
    joblib only checks "ZF" and parses the length with int(..., 16), "0x" or not."""

    def packed(data: bytes) -> bytes:
        length = (f"{len(data):#x}" if hex_prefix else f"{len(data):x}").encode()
        return b"ZF" + length.ljust(19) + zlib.compress(data)

    return packed


# Not here: a zstd pickle split over two frames (pandas' zstandard.open reads the first
# frame only, so nothing fires).
COMPRESSED: dict[str, tuple[Callable[[bytes], bytes], str, tuple[str, ...]]] = {
    "gzip": (_gzip, "model.pkl.gz", ()),
    "bz2": (bz2.compress, "model.pkl.bz2", ()),
    "xz": (lzma.compress, "model.pkl.xz", ()),
    "lzma-alone": (lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE), "model.pkl.lzma", ()),
    "zlib": (zlib.compress, "model.pkl.z", ()),
    "zstd": (_zstd, "model.pkl.zst", ("zstandard",)),
    "gzip-two-members": (_split(_gzip), "model.pkl.gz", ()),
    "bz2-two-streams": (_split(bz2.compress), "model.pkl.bz2", ()),
    "xz-two-streams": (_split(lzma.compress), "model.pkl.xz", ()),
    "zstd-skippable-frame-first": (_zstd_skippable_first, "model.pkl.zst", ("zstandard",)),
    "gzip-header-fields": (_gzip_header_fields, "model.pkl.gz", ()),
    "gzip-trailing-zeros": (lambda d: _gzip(d) + b"\x00" * 64, "model.pkl.gz", ()),
    "lzma-alone-props-zero-as-xz": (_lzma_alone_props0, "model.pkl.xz", ()),
    "xz-check-sha256": (lambda d: lzma.compress(d, check=lzma.CHECK_SHA256), "model.pkl.xz", ()),
    "joblib-zfile": (_joblib_zfile(True), "model.pkl", ()),
    "joblib-zfile-bare-hex-length": (_joblib_zfile(False), "model.pkl", ()),
}


@family("compressed", 3, "pickles behind every codec pandas and joblib decompress")
def compressed(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(COMPRESSED), full):
        codec, fname, requires = COMPRESSED[variant]
        make = lambda c=codec, p=payload: c(pickle_bytes(p, protocol=4))  # noqa: E731
        yield variant, payload, fname, make, {"requires": requires}
