""".npy and .npz files: headers read exactly as numpy reads them, object arrays scanned."""

from __future__ import annotations

import io
import struct
import zipfile

import numpy as np
import pytest

from tests.corpus import Asm
from tests.corpus.containers import npy_bytes, npz_bytes
from torchvet.containers.numpy_files import dtype_layout
from torchvet.scan import scan_bytes

PAYLOAD = Asm(2).global_("os", "system").tuple_of("true").reduce().stop().bytes()


def npy(
    header: str, data: bytes, version: tuple[int, int] = (1, 0), length: int | None = None
) -> bytes:
    raw = header.encode("latin1" if version < (3, 0) else "utf8")
    fmt = "<H" if version == (1, 0) else "<I"
    size = struct.pack(fmt, len(raw) if length is None else length)
    return b"\x93NUMPY" + bytes(version) + size + raw + data


def hdr(descr: str = "'<f8'", fortran: str = "False", shape: str = "(3,)") -> str:
    return f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {shape}, }}"


# name -> (file bytes, whether torchvet must call it malformed)
NUMERIC: dict[str, bytes] = {
    "ok": npy(hdr(), b"\0" * 24),
    "version-2": npy(hdr(), b"\0" * 24, (2, 0)),
    "version-3": npy(hdr(), b"\0" * 24, (3, 0)),
    "version-4": npy(hdr(), b"\0" * 24, (4, 0)),
    "version-1.1": npy(hdr(), b"\0" * 24, (1, 1)),
    "truncated": npy(hdr(), b"\0" * 23),
    "trailing": npy(hdr(), b"\0" * 25),
    "not-a-dict": npy("[1, 2]", b""),
    "missing-key": npy("{'descr': '<f8', 'shape': (1,)}", b"\0" * 8),
    "extra-key": npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': 1}", b"\0" * 8),
    "shape-list": npy(hdr(shape="[3]"), b"\0" * 24),
    "shape-negative": npy(hdr(shape="(-1,)"), b"\0" * 24),
    "shape-bool": npy(hdr(shape="(True,)"), b"\0" * 8),
    "shape-huge": npy(hdr(shape="(1099511627776, 1099511627776)"), b""),
    "shape-expression": npy(hdr(shape="(2**40,)"), b""),
    "fortran-int": npy(hdr(fortran="0"), b"\0" * 24),
    "python2-long": npy(hdr(shape="(3L,)"), b"\0" * 24),
    "python2-long-v3": npy(hdr(shape="(3L,)"), b"\0" * 24, (3, 0)),
    "syntax-error": npy("{'descr': ", b""),
    "header-length-beyond-file": npy(hdr(), b"\0" * 24, length=60000),
    "structured": npy(hdr(descr="[('a', '<f4'), ('b', '<i8')]"), b"\0" * 36),
    "structured-truncated": npy(hdr(descr="[('a', '<f4'), ('b', '<i8')]"), b"\0" * 35),
    "subarray-field": npy(hdr(descr="[('a', '<f4', (2,))]"), b"\0" * 24),
    "padding-field": npy(hdr(descr="[('', '|V4'), ('b', '<i4')]"), b"\0" * 24),
    "unicode": npy(hdr(descr="'<U3'"), b"\0" * 36),
    "bytes": npy(hdr(descr="'|S2'"), b"\0" * 6),
    "datetime": npy(hdr(descr="'<M8[ns]'"), b"\0" * 24),
    "comma-string": npy(hdr(descr="'i4,f8'"), b"\0" * 36),
    "named": npy(hdr(descr="'float32'"), b"\0" * 12),
    "longdouble": npy(hdr(descr="'<f16'"), b"\0" * 48),
    "empty": npy(hdr(shape="(0, 5)"), b""),
    "scalar": npy(hdr(shape="()"), b"\0" * 8),
}


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_numeric_malformed_iff_numpy_refuses(name: str) -> None:
    data = NUMERIC[name]
    try:
        np.load(io.BytesIO(data), allow_pickle=False)
        numpy_ok = True
    except Exception:  # any error numpy raises
        numpy_ok = False
    result = scan_bytes(data, name=f"{name}.npy")
    assert result.verdict.value in ("unsupported", "malformed")
    assert (result.verdict.value == "unsupported") == numpy_ok, result.findings
    assert result.torch_error == "Unsupported operand 147"


def test_real_arrays_are_unsupported_not_worse() -> None:
    arrays = [
        np.arange(10.0),
        np.zeros((2, 3), dtype=np.int16, order="F"),
        np.array(["a", "bcd"]),
        np.zeros(3, dtype=[("x", "<f4"), ("y", "S3"), ("z", "<i8", (2,))]),
        np.array(1.5),
        np.ones(4, dtype=np.complex64),
        np.array(["2020-01-01"], dtype="M8[D]"),
    ]
    for a in arrays:
        result = scan_bytes(npy_bytes(a), name="a.npy")
        assert result.verdict.value == "unsupported", (a.dtype, result.findings)
        assert "numpy.load(f, allow_pickle=False)" in " ".join(f.message for f in result.findings)


def test_dtype_layouts_match_numpy() -> None:
    descrs = ["<f8", "|b1", "<U7", "|S0", "|V5", "<m8[s]", "i4,f8", "<c16", "|O"]
    descrs += [[("a", "<f4"), ("b", "|O")], [("a", "<i2", (3, 2))], ("<f4", (2,))]
    for d in descrs:
        dt = np.lib.format.descr_to_dtype(d)
        assert dtype_layout(d) == (dt.hasobject, dt.itemsize), d


def test_object_array_pickle_is_scanned() -> None:
    benign = scan_bytes(npy_bytes(np.array([1, "a", None], dtype=object)), name="o.npy")
    assert benign.verdict.value == "unsupported"
    assert benign.format == "npy-object"
    evil = npy(hdr(descr="'|O'"), PAYLOAD)
    result = scan_bytes(evil, name="o.npy")
    assert result.verdict.value == "dangerous"
    assert any(f.global_name == "os.system" for f in result.findings)


def test_structured_dtype_with_object_field_is_a_pickle() -> None:
    evil = npy(hdr(descr="[('a', '<i4'), ('b', '|O')]"), PAYLOAD)
    assert scan_bytes(evil, name="s.npy").verdict.value == "dangerous"


def test_unknown_dtype_still_looks_for_a_pickle() -> None:
    evil = npy(hdr(descr="'weird'"), PAYLOAD)
    assert scan_bytes(evil, name="w.npy").verdict.value == "dangerous"
    plain = npy(hdr(descr="'weird'"), b"\0" * 8)
    assert scan_bytes(plain, name="w.npy").verdict.value == "unknown"


def test_oversized_header_is_bounded() -> None:
    data = npy(hdr() + " " * 2_000_000, b"\0" * 24, (2, 0))
    result = scan_bytes(data, name="big.npy")
    assert result.verdict.value == "malformed"


def test_npz_members(tmp_path: object) -> None:
    members = {
        "a": npy_bytes(np.arange(4.0)),
        "b": npy(hdr(descr="'|O'"), PAYLOAD),
    }
    for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        result = scan_bytes(npz_bytes(members, compression), name="x.npz")
        assert result.format == "npz"
        assert result.verdict.value == "dangerous"
        assert any(f.entry == "b.npy" and f.global_name == "os.system" for f in result.findings)
        assert result.torch_error == "file in archive is not in a subdirectory: a.npy"
        numeric = scan_bytes(npz_bytes({"a": members["a"]}, compression), name="x.npz")
        assert numeric.verdict.value == "unsupported"


def test_npz_truncated_member_is_malformed() -> None:
    data = npz_bytes({"a": npy(hdr(), b"\0" * 20)}, zipfile.ZIP_DEFLATED)
    assert scan_bytes(data, name="x.npz").verdict.value == "malformed"


def test_npz_raw_and_pickle_members() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("a.npy", npy_bytes(np.arange(3)))
        zf.writestr("notes.txt", PAYLOAD)  # numpy returns it as bytes: never unpickled
    assert scan_bytes(out.getvalue(), name="x.npz").verdict.value == "unsupported"
    with zipfile.ZipFile(out, "a") as zf:
        zf.writestr("extra.pkl", PAYLOAD)  # not read by numpy, but a pickle all the same
    assert scan_bytes(out.getvalue(), name="x.npz").verdict.value == "dangerous"
