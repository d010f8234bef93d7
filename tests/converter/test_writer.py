"""The safetensors layout written by hand, against the safetensors library: the same
tensor order, a header it reads, its header-size limit; and the atomic output file."""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load as safetensors_load
from safetensors.numpy import save as safetensors_save

from torchvet.converter import writer
from torchvet.converter.writer import (
    AtomicFile,
    HeaderError,
    build_header,
    order_key,
)

ARRAYS = {
    "b.bias": np.arange(3, dtype=np.float32),
    "a.weight": np.arange(6, dtype=np.float64).reshape(2, 3),
    "mask": np.array([True, False]),
    "ids": np.arange(4, dtype=np.int64),
    "half": np.ones(5, dtype=np.float16),
    "bytes": np.arange(7, dtype=np.uint8),
    "z.scalar": np.array(1.5, dtype=np.float32),
}
CODES = {"f4": "F32", "f8": "F64", "b1": "BOOL", "i8": "I64", "f2": "F16", "u1": "U8"}


def _header(data: bytes) -> dict:
    (n,) = struct.unpack_from("<Q", data)
    return json.loads(data[8 : 8 + n])


def _ours(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    entries = sorted(
        ((name, CODES[a.dtype.str[1:]], list(a.shape), a.nbytes) for name, a in arrays.items()),
        key=lambda e: order_key(e[0], e[1]),
    )
    body = b"".join(arrays[name].tobytes() for name, *_ in entries)
    return build_header(entries, metadata) + body


def test_tensors_are_laid_out_as_safetensors_lays_them_out() -> None:
    theirs = _header(safetensors_save(ARRAYS, metadata={"format": "np"}))
    ours = _header(_ours(ARRAYS, {"format": "np"}))
    assert ours == theirs  # same order, offsets, shapes, dtypes and metadata


def test_the_library_reads_what_is_written() -> None:
    data = _ours(ARRAYS, {"epoch": "7"})
    assert (8 + struct.unpack_from("<Q", data)[0]) % 8 == 0  # tensors start aligned
    loaded = safetensors_load(data)
    assert loaded.keys() == ARRAYS.keys()
    for name, array in ARRAYS.items():
        assert loaded[name].dtype == array.dtype and (loaded[name] == array).all(), name


def test_a_header_larger_than_readers_accept_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "MAX_HEADER", 1 << 10)  # the real one is 100 MB
    build_header([], {"blob": "x" * 900})
    with pytest.raises(HeaderError, match="too much metadata"):
        build_header([], {"blob": "x" * 1100})


def test_atomic_file_appears_only_on_commit(tmp_path: Path) -> None:
    target = tmp_path / "out.safetensors"
    out = AtomicFile(str(target), overwrite=False)
    out.write(b"head")
    out.skip(4)  # left for another writer: a hole of zeros
    out.write(b"tail")
    assert not target.exists()
    out.commit()
    assert target.read_bytes() == b"head\0\0\0\0tail"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.safetensors"]


def test_an_existing_file_is_replaced_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "out.safetensors"
    target.write_bytes(b"keep me")
    out = AtomicFile(str(target), overwrite=False)
    out.write(b"new")
    with pytest.raises(FileExistsError):
        out.commit()
    assert target.read_bytes() == b"keep me"
    out = AtomicFile(str(target), overwrite=True)
    out.write(b"new")
    out.commit()
    assert target.read_bytes() == b"new"
    aborted = AtomicFile(str(tmp_path / "never.safetensors"), overwrite=False)
    aborted.write(b"x")
    aborted.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.safetensors"]
