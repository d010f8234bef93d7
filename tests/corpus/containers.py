"""Writers and rewriters for the file containers in the corpus.

Everything here only writes bytes; nothing unpickles. Payload bytes are spliced into
real writers (torch.save, joblib, numpy) through `SplicePickler`, so the surrounding
container is exactly what those libraries produce.
"""

from __future__ import annotations

import functools
import io
import pickle
import pickletools
import struct
import types
import warnings
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from tests.corpus.oracle import skip_without_torch

FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip timestamps fixed so rewrites are deterministic


def _torch():  # type: ignore[no-untyped-def]
    """torch, imported when a writer needs it; a test without torch is skipped there."""
    skip_without_torch()
    import torch

    return torch


# -- splicing raw opcodes into a real pickler ------------------------------------------
class Raw:
    """Opcodes that push exactly one value; `SplicePickler` writes them verbatim."""

    def __init__(self, data: bytes) -> None:
        self.data = data


class SplicePickler(pickle._Pickler):  # type: ignore[name-defined]
    """Pure-Python pickler that writes `Raw` objects as they are.

    Use protocol <= 3: the payload may BINPUT into high memo slots, which is only safe
    when the host pickler addresses its memo explicitly (protocol 4+ uses MEMOIZE).
    """

    pid_log: list[Any] | None = None  # when a list, every persistent id saved is appended

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, Raw):
            self.write(obj.data)
            return
        super().save(obj, save_persistent_id)

    def save_pers(self, pid: Any) -> None:
        if SplicePickler.pid_log is not None:
            SplicePickler.pid_log.append(pid)
        super().save_pers(pid)


# Passed as torch.save(pickle_module=...): torch subclasses `.Pickler` for persistent ids.
splice_pickle_module = types.SimpleNamespace(
    Pickler=SplicePickler,
    dump=lambda obj, f, protocol=2: SplicePickler(f, protocol=protocol).dump(obj),
    __name__="splice_pickle",
)


def splice_dumps(obj: Any, protocol: int = 2) -> bytes:
    buf = io.BytesIO()
    SplicePickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()


# -- torch.save ------------------------------------------------------------------------
def torch_save(
    obj: Any,
    path: Path,
    *,
    protocol: int = 2,
    legacy: bool = False,
    splice: bool = False,
    **kwargs: Any,
) -> bool:
    """torch.save `obj` to `path`; returns whether the bytes are reproducible.

    Legacy files name storages by pointer value and order them by that name; they are
    renamed by first appearance and reordered so that regeneration gives the same bytes.
    """
    torch = _torch()

    extra: dict[str, Any] = {"pickle_protocol": protocol, **kwargs}
    if splice or legacy:
        extra["pickle_module"] = splice_pickle_module
    if not legacy:
        torch.save(obj, str(path), **extra)
        return True
    SplicePickler.pid_log = []
    try:
        torch.save(obj, str(path), _use_new_zipfile_serialization=False, **extra)
        pids = SplicePickler.pid_log
    finally:
        SplicePickler.pid_log = None
    data, ok = canonical_legacy(path.read_bytes(), pids)
    path.write_bytes(data)
    return ok


def pickle_spans(data: bytes, count: int) -> list[tuple[int, int]]:
    """Byte spans [start, end) of the first `count` concatenated pickles in `data`."""
    spans: list[tuple[int, int]] = []
    buf = io.BytesIO(data)
    for _ in range(count):
        start = buf.tell()
        for opcode, _arg, pos in pickletools.genops(buf):
            if opcode.name == "STOP":
                spans.append((start, pos + 1))
                break
        buf.seek(spans[-1][1])
    return spans


def canonical_legacy(data: bytes, pids: list[Any]) -> tuple[bytes, bool]:
    """Rename a legacy file's storages "0", "1", ... by first use and reorder the blobs.

    `pids` are the persistent ids torch pickled, in order. Keys keep their length (the
    new names are zero-padded) so pickle 4 keeps its layout; pickle 5 (the key list)
    and the blobs are rewritten in the new order.
    """
    torch = _torch()

    order = list(dict.fromkeys(pid[2] for pid in pids))
    stype = {pid[2]: pid[1] for pid in pids}
    if not order:
        return data, True
    if len({len(k) for k in order}) != 1:
        return data, False
    width = len(order[0])
    rename = {k: str(i).zfill(width) for i, k in enumerate(order)}
    spans = pickle_spans(data, 5)
    old_sorted = pickle.loads(data[spans[4][0] : spans[4][1]])  # a list of str: inert
    blobs, pos = {}, spans[4][1]
    for key in old_sorted:
        (count,) = struct.unpack_from("<q", data, pos)
        cls = stype[key]
        elsize = 1 if cls is torch.UntypedStorage else torch._utils._element_size(cls.dtype)
        blobs[key] = data[pos : pos + 8 + count * elsize]
        pos += len(blobs[key])
    pickle4 = data[spans[3][0] : spans[3][1]]
    for old, new in rename.items():
        tag = b"X" + struct.pack("<I", width)
        pickle4 = pickle4.replace(tag + old.encode(), tag + new.encode())
    keys = splice_dumps([rename[k] for k in order], protocol=2)
    out = data[: spans[3][0]] + pickle4 + keys + b"".join(blobs[k] for k in order)
    return out + data[pos:], True


def replace_pickle(data: bytes, index: int, new_pickle: bytes) -> bytes:
    """Swap pickle number `index` of a concatenation (legacy torch files) for another."""
    start, end = pickle_spans(data, index + 1)[index]
    return data[:start] + new_pickle + data[end:]


# -- zip archives ----------------------------------------------------------------------
def zip_entries(data: bytes) -> list[tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


def rewrite_zip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_STORED,
    prefix: str | None = None,
    add: Iterable[tuple[str, bytes]] = (),
) -> bytes:
    """Re-write a zip with Python's zipfile (unaligned, no data descriptors).

    `replace` maps an entry-name suffix (e.g. "data.pkl") to new content; `prefix`
    renames the top-level folder.
    """
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for info, content in zip_entries(data):
            name = info.filename
            for suffix, new in replace.items():
                if name.endswith("/" + suffix) or name == suffix:
                    content = new
            if prefix is not None:
                name = prefix + "/" + name.split("/", 1)[1]
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            zi.compress_type = compression
            zf.writestr(zi, content)
        for name, content in add:
            zi = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            zi.compress_type = compression
            zf.writestr(zi, content)
    return out.getvalue()


def write_torch_zip(path: Path, records: list[tuple[str, bytes]]) -> None:
    """Write records with torch's own zip writer (64-byte alignment, data descriptors).

    Names are relative to the archive folder, which torch derives from `path`'s stem.
    torch adds `version` and `.data/serialization_id` itself.
    """
    torch = _torch()

    writer = torch._C.PyTorchFileWriter(str(path), True, 64)
    for name, content in records:
        writer.write_record(name, content, len(content))
    writer.write_end_of_file()


def _central_entries(data: bytes) -> list[tuple[int, str, int]]:
    """(central header offset, name, local header offset) for every entry."""
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, cd_offset = struct.unpack_from("<HII", data, eocd + 10)
    out = []
    pos = cd_offset
    for _ in range(count):
        nlen, xlen, clen = struct.unpack_from("<HHH", data, pos + 28)
        (local,) = struct.unpack_from("<I", data, pos + 42)
        name = data[pos + 46 : pos + 46 + nlen].decode()
        out.append((pos, name, local))
        pos += 46 + nlen + xlen + clen
    return out


def _find(data: bytes, suffix: str) -> tuple[int, str, int]:
    for entry in _central_entries(data):
        if entry[1].endswith(suffix):
            return entry
    raise KeyError(suffix)


def tamper_crc(data: bytes, suffix: str = "data.pkl") -> bytes:
    """Flip the CRC-32 of one entry in the central directory."""
    out = bytearray(data)
    central, _name, _local = _find(data, suffix)
    out[central + 16] ^= 0xFF
    return bytes(out)


def tamper_local_name(data: bytes, suffix: str = "data.pkl") -> bytes:
    """Change one letter of an entry's name in its local header only."""
    out = bytearray(data)
    _central, name, local = _find(data, suffix)
    out[local + 30 + len(name) - 1] ^= 0x20  # 'l' -> 'L': same length, different name
    return bytes(out)


def tamper_local_flags(data: bytes, suffix: str = "data.pkl", bits: int = 0x0001) -> bytes:
    """Set general-purpose flag bits (default: 'encrypted') in one local header only."""
    out = bytearray(data)
    _central, _name, local = _find(data, suffix)
    (flags,) = struct.unpack_from("<H", data, local + 6)
    struct.pack_into("<H", out, local + 6, flags | bits)
    return bytes(out)


# -- TorchScript -----------------------------------------------------------------------
@functools.cache
def torchscript_bytes(extra_files: bool = False) -> bytes:
    """`torch.jit.save` of a scripted Linear(2, 2), optionally with two extra files."""
    torch = _torch()

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = torch.jit.script(torch.nn.Linear(2, 2))
        buf = io.BytesIO()
        extra = {"meta.json": '{"framework": "corpus"}', "notes.txt": "hello"}
        torch.jit.save(module, buf, _extra_files=extra if extra_files else None)
    return buf.getvalue()


# -- joblib ----------------------------------------------------------------------------
def joblib_dump(obj: Any, path: Path, *, compress: str | None = None, protocol: int = 3) -> None:
    """joblib.dump with a splicing pickler (arrays still go through joblib's wrapper)."""
    from joblib.numpy_pickle import NumpyPickler
    from joblib.numpy_pickle_utils import _write_fileobject

    class SpliceNumpyPickler(NumpyPickler):
        def save(self, obj: Any) -> None:
            if isinstance(obj, Raw):
                self.write(obj.data)
                return
            super().save(obj)

    if compress:
        with _write_fileobject(str(path), compress=(compress, 3)) as f:
            SpliceNumpyPickler(f, protocol=protocol).dump(obj)
    else:
        with open(path, "wb") as f:
            SpliceNumpyPickler(f, protocol=protocol).dump(obj)


# -- numpy -----------------------------------------------------------------------------
def npy_bytes(array: Any) -> bytes:
    """numpy's .npy writer; object arrays are pickled by `SplicePickler` (protocol 3)."""
    import numpy as np

    buf = io.BytesIO()
    fmt = np.lib.format
    if array.dtype.hasobject:
        fmt.write_array_header_1_0(buf, fmt.header_data_from_array_1_0(array))
        SplicePickler(buf, protocol=3).dump(array)
    else:
        fmt.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def npz_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    """An .npz: a zip of `<name>.npy` members, with fixed timestamps."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, content in members.items():
            zi = zipfile.ZipInfo(name + ".npy", date_time=FIXED_ZIP_TIME)
            zi.compress_type = compression
            zf.writestr(zi, content)
    return out.getvalue()


def zlib_stream(data: bytes) -> bytes:
    return zlib.compress(data, 6)
