"""Polyglots (issue 8 class 3): bytes that look like one format and load as another.

* ``polyglot-magic``: a valid pickle from byte 0 whose first bytes are another
  format's magic (a PE executable, GIF, bz2, a safetensors header, a tar header).
  ``pickle.load``, ``joblib.load``, ``numpy.load`` and torch's legacy path read it
  from byte 0 whatever it looks like.
* ``polyglot-prefix-zip``: another file's bytes, then a zip. Python's zipfile finds the
  zip from its end (``pandas.read_pickle('x.zip')`` and numpy read it); a file that
  starts with an end-of-central-directory record is an ``.npz`` to numpy.
"""

from __future__ import annotations

import gzip
import struct
import tarfile
from collections.abc import Callable, Iterable

from tests.redteam import builders as B
from tests.redteam.cases import family, rotate
from tests.redteam.payloads import pickle_bytes, text_pickle


# -- pickles from byte 0 behind another format's magic ----------------------------------
def _pe(payload: str) -> bytes:
    # "M" BININT2 swallows "Z\x90": the DOS header's first bytes are a harmless int.
    return b"MZ\x90" + b"0" + pickle_bytes(payload) + b"\x00" * 60 + b"PE\x00\x00"


def _gif(payload: str) -> bytes:
    # "G" BINFLOAT swallows "IF89a" and the first three bytes of the screen descriptor.
    return b"GIF89a\x01\x00\x01" + b"0" + pickle_bytes(payload) + b"\x3b"


def _bz2(payload: str) -> bytes:
    # "B" BINBYTES reads the length "Zh\x00\x00" (26714) and swallows that many bytes.
    length = struct.unpack("<I", b"Zh\x00\x00")[0]
    filler = (b"1AY&SY" + b"\x00" * 58) * (length // 64 + 1)
    return b"BZh\x00\x00" + filler[:length] + b"0" + pickle_bytes(payload)


def _safetensors(payload: str) -> bytes:
    # Bytes 0-7 read as a little-endian header size n; byte 8 opens the JSON header.
    # "B" + length 64 swallows bytes 5..68, so n = 0x42 + 64 * 256.
    content = b"\x00\x00\x00" + b'{"__metadata__": {"format": "pt"}, "x": "'.ljust(61, b"y")
    data = b"B" + struct.pack("<I", len(content)) + content + b"0" + pickle_bytes(payload)
    n = struct.unpack("<Q", data[:8])[0]
    return data + b" " * max(0, n + 8 - len(data))


def _tar_name(payload: str) -> bytes:
    """A valid tar whose first member's name is a protocol 0 pickle."""
    return B.build_tar([B.TarEntry(text_pickle(payload).decode("ascii"), b"hello\n")])


def _tar_swallow(payload: str) -> bytes:
    """A valid tar whose header is swallowed by BINBYTES; its one member is the pickle.

    ``pickle.load`` reads the 512-byte header as a bytes argument, then the member's
    data: a pickle, which is also what ``pandas.read_pickle('x.tar')`` unpickles.
    """
    data = pickle_bytes(payload)
    name = "B" + struct.pack("<I", 507).decode("latin-1").rstrip("\x00")
    out = bytearray(_tar_latin1(name, data))
    assert out[1:5] == struct.pack("<I", 507)
    return bytes(out)


def _tar_latin1(name: str, data: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
        info = tarfile.TarInfo(name)
        info.size, info.mtime = len(data), 0
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


MAGIC: dict[str, tuple[Callable[[str], bytes], str]] = {
    "pe": (_pe, "model.bin"),
    "gif": (_gif, "preview.pt"),
    "bz2": (_bz2, "weights.pkl"),
    "safetensors-header": (_safetensors, "model.bin"),
    "tar-member-name": (_tar_name, "checkpoint.pt"),
    "tar-header-swallowed": (_tar_swallow, "checkpoint.pt"),
}


@family("polyglot-magic", 3, "a pickle from byte 0 that begins like another format")
def polyglot_magic(full: bool) -> Iterable[tuple]:
    for variant, payload in rotate(list(MAGIC), full):
        build, fname = MAGIC[variant]
        yield variant, payload, fname, (lambda b=build, p=payload: b(p))


# -- zips behind other bytes --------------------------------------------------------------
PREFIXES: dict[str, bytes] = {
    "elf": b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + b"\x00" * 44,
    "png": b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 17,
    "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "pe": b"MZ\x90\x00" + b"\x00" * 56 + b"PE\x00\x00",
    "gzip": gzip.compress(b"hello\n", mtime=0),
    "pickle": B.benign_pickle(),
}


def _prefixed_pickle_zip(prefix: bytes, shift: bool, payload: str) -> bytes:
    member = B.Member("data.pkl", pickle_bytes(payload))
    return B.build_zip([member], prefix=prefix, shift_offsets=shift)


def _eocd_npz(shift: bool, payload: str) -> bytes:
    """numpy.load opens any file starting "PK\\x05\\x06" (an empty zip) as an .npz."""
    empty_eocd = b"PK\x05\x06" + b"\x00" * 18
    members = [
        B.Member("weights.npy", B.npy_floats()),
        B.Member("meta.npy", B.npy_object(pickle_bytes(payload))),
    ]
    return B.build_zip(members, prefix=empty_eocd, shift_offsets=shift)


@family("polyglot-prefix-zip", 3, "another file's bytes, then a zip that zipfile finds")
def polyglot_prefix_zip(full: bool) -> Iterable[tuple]:
    variants = [(p, s) for p in PREFIXES for s in (True, False)]
    if not full:
        variants = [v for i, v in enumerate(variants) if i % 2 == (i // 2) % 2]
    for (prefix, shift), payload in rotate(variants, full):
        name = f"{prefix}-{'offsets-shifted' if shift else 'offsets-unshifted'}"
        make = lambda p=PREFIXES[prefix], s=shift, pl=payload: _prefixed_pickle_zip(p, s, pl)  # noqa: E731
        yield name, payload, "model.zip", make
    shifts = {"eocd-npz-offsets-shifted": True, "eocd-npz-offsets-unshifted": False}
    for name, payload in rotate(list(shifts), full):
        yield name, payload, "arrays.npz", (lambda s=shifts[name], pl=payload: _eocd_npz(s, pl))
