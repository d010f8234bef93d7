"""safetensors: the header validator against safetensors 0.8.0 itself, and torch's view."""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path
from typing import Any

import pytest
import safetensors
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.corpus import weights_only_batch
from torchvet.containers.safetensors_files import DTYPE_BITS, SafetensorsError, read_header
from torchvet.scan import scan_bytes, scan_file
from torchvet.source import BytesSource

TENSOR = '"dtype":"F32","shape":[1],"data_offsets":[0,4]'


def st_file(header: str | bytes | dict, data: bytes = b"") -> bytes:
    """A file with this header; in a str header, @T stands for a valid 4-byte tensor."""
    if isinstance(header, dict):
        header = json.dumps(header)
    if isinstance(header, str):
        header = header.replace("@T", TENSOR).encode()
    return struct.pack("<Q", len(header)) + header + data


def theirs(data: bytes, tmp: Path) -> bool:
    path = tmp / "probe.safetensors"
    path.write_bytes(data)
    try:
        with safetensors.safe_open(str(path), "np") as f:
            list(f.keys())
        return True
    except Exception:  # safetensors raises SafetensorError (and a few others)
        return False


def ours(data: bytes) -> bool:
    try:
        read_header(BytesSource(data))
        return True
    except SafetensorsError:
        return False


EDGE_CASES: dict[str, bytes] = {
    "ok": st_file('{"t":{@T}}', b"\0" * 4),
    "duplicate-tensor": st_file('{"t":{@T},"t":{@T}}', b"\0" * 4),
    "duplicate-field": st_file('{"t":{"dtype":"F32",@T}}', b"\0" * 4),
    "extra-field": st_file('{"t":{@T,"x":[1,-2,{"y":null}]}}', b"\0" * 4),
    "sequence-form": st_file('{"t":["F32",[1],[0,4]]}', b"\0" * 4),
    "sequence-too-long": st_file('{"t":["F32",[1],[0,4],1]}', b"\0" * 4),
    "enum-map-form": st_file(
        '{"t":{"dtype":{"F32":null},"shape":[1],"data_offsets":[0,4]}}', b"\0" * 4
    ),
    "enum-map-value": st_file(
        '{"t":{"dtype":{"F32":1},"shape":[1],"data_offsets":[0,4]}}', b"\0" * 4
    ),
    "metadata-null": st_file('{"__metadata__":null,"t":{@T}}', b"\0" * 4),
    "metadata-twice": st_file('{"__metadata__":{},"__metadata__":{},"t":{@T}}', b"\0" * 4),
    "metadata-int": st_file('{"__metadata__":{"a":1},"t":{@T}}', b"\0" * 4),
    "metadata-dup-key": st_file('{"__metadata__":{"a":"1","a":"2"},"t":{@T}}', b"\0" * 4),
    "shape-float": st_file('{"t":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}', b"\0" * 4),
    "shape-minus-zero": st_file('{"t":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}}'),
    "shape-beyond-u64": st_file(
        '{"t":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}', b"\0" * 4
    ),
    "shape-overflow": st_file(
        '{"t":{"dtype":"F32","shape":[18446744073709551615,2],"data_offsets":[0,4]}}', b"\0" * 4
    ),
    "zero-dim-then-huge": st_file(
        '{"t":{"dtype":"F32","shape":[0,18446744073709551615],"data_offsets":[0,0]}}'
    ),
    "lone-surrogate": st_file('{"\\ud800":{@T}}', b"\0" * 4),
    "surrogate-pair": st_file('{"\\ud83d\\ude00":{@T}}', b"\0" * 4),
    "nan": st_file('{"t":{@T,"x":NaN}}', b"\0" * 4),
    "huge-float": st_file('{"t":{@T,"x":1e400}}', b"\0" * 4),
    "huge-int": st_file('{"t":{@T,"x":' + "9" * 400 + "}}", b"\0" * 4),
    "trailing-garbage": st_file('{"t":{@T}} x', b"\0" * 4),
    "whitespace-around": st_file(' \n\t{"t":{@T}}\r\n ', b"\0" * 4),
    "bom": st_file(b'\xef\xbb\xbf{"t":{' + TENSOR.encode() + b"}}", b"\0" * 4),
    "bad-utf8": st_file(b'{"t\xff":{' + TENSOR.encode() + b"}}", b"\0" * 4),
    "top-level-array": st_file("[]"),
    "empty-object": st_file("{}"),
    "empty-object-extra-data": st_file("{}", b"xx"),
    "hole": st_file('{"a":{@T},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', b"\0" * 12),
    "overlap": st_file('{"a":{@T},"b":{@T}}', b"\0" * 4),
    "end-before-begin": st_file(
        '{"t":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}', b"\0" * 4
    ),
    "f4-odd": st_file('{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', b"\0" * 2),
    "f4-scalar": st_file('{"t":{"dtype":"F4","shape":[],"data_offsets":[0,1]}}', b"\0"),
    "unknown-dtype": st_file('{"t":{"dtype":"f32","shape":[1],"data_offsets":[0,4]}}', b"\0" * 4),
    "missing-field": st_file('{"t":{"dtype":"F32","data_offsets":[0,4]}}', b"\0" * 4),
    "tensor-null": st_file('{"t":null}'),
    "deep-extra": st_file('{"t":{@T,"x":' + "[" * 125 + "]" * 125 + "}}", b"\0" * 4),
    "too-deep-extra": st_file('{"t":{@T,"x":' + "[" * 126 + "]" * 126 + "}}", b"\0" * 4),
    "very-deep": st_file('{"t":{@T,"x":' + "[" * 5000 + "]" * 5000 + "}}", b"\0" * 4),
    "header-too-large": struct.pack("<Q", 100_000_001) + b"{}",
    "header-beyond-file": struct.pack("<Q", 50) + b"{}",
    "too-small": b"\x02\x00\x00",
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_match_safetensors(name: str, tmp_path: Path) -> None:
    data = EDGE_CASES[name]
    assert ours(data) == theirs(data, tmp_path)


# -- hypothesis: valid files, then one corruption ---------------------------------------
NAMES = st.text(st.characters(codec="utf-8", exclude_characters='"\\'), min_size=1, max_size=8)


@st.composite
def headers(draw: Any) -> tuple[dict, int]:
    n = draw(st.integers(0, 4))
    names = draw(
        st.lists(NAMES.filter(lambda s: s != "__metadata__"), min_size=n, max_size=n, unique=True)
    )
    header: dict[str, Any] = {}
    offset = 0
    for name in names:
        dtype = draw(st.sampled_from(sorted(DTYPE_BITS)))
        shape = draw(st.lists(st.integers(0, 4), max_size=3))
        count = 1
        for d in shape:
            count *= d
        bits = count * DTYPE_BITS[dtype]
        if bits % 8:
            shape, bits = [*shape, 8], bits * 8
        header[name] = {
            "dtype": dtype,
            "shape": shape,
            "data_offsets": [offset, offset + bits // 8],
        }
        offset += bits // 8
    if draw(st.booleans()):
        header["__metadata__"] = draw(st.dictionaries(NAMES, NAMES, max_size=2))
    return header, offset


def _corrupt(draw: Any, header: dict, size: int) -> tuple[dict | str, int]:
    kind = draw(
        st.sampled_from(["size", "offset", "shape", "dtype", "drop", "meta", "text", "none"])
    )
    tensors = [k for k in header if k != "__metadata__"]
    if kind == "size":
        return header, size + draw(st.sampled_from([-1, 1, 7]))
    if kind in ("offset", "shape", "dtype", "drop") and tensors:
        info = header[draw(st.sampled_from(tensors))]
        if kind == "offset":
            i = draw(st.integers(0, 1))
            info["data_offsets"][i] = max(
                0, info["data_offsets"][i] + draw(st.sampled_from([-1, 1, 2]))
            )
        elif kind == "shape":
            info["shape"] = draw(st.sampled_from([[-1], [1.5], "x", [2**64], [*info["shape"], 2]]))
        elif kind == "dtype":
            info["dtype"] = draw(st.sampled_from(["F33", "f32", 3, None, "BF16", "F4", "F6_E2M3"]))
        else:
            del info[draw(st.sampled_from(sorted(info)))]
    elif kind == "meta":
        header["__metadata__"] = draw(st.sampled_from([{"a": 1}, [], "x", None, {"a": None}]))
    elif kind == "text":
        text = json.dumps(header)
        cut = draw(st.integers(0, len(text)))
        return text[:cut] + draw(st.sampled_from(["", " ", "}", ",", "\x00", "NaN"])) + text[
            cut:
        ], size
    return header, size


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_differential_against_safetensors(data: Any) -> None:
    header, size = data.draw(headers())
    if data.draw(st.booleans()):
        header, size = _corrupt(data.draw, header, size)
    blob = st_file(header, b"\x00" * max(0, size))
    with tempfile.TemporaryDirectory() as tmp:
        assert ours(blob) == theirs(blob, Path(tmp)), blob[:300]


# -- what torch.load does with them ---------------------------------------------------------
F4_EVEN = st_file('{"t":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}}', b"\0" * 3)
F4_ODD_LAST = st_file('{"t":{"dtype":"F4","shape":[2,3],"data_offsets":[0,3]}}', b"\0" * 3)
F6 = st_file('{"t":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]}}', b"\0" * 3)
PICKLE = b"\x80\x02}q\x00."
TORCH_CASES = {
    "valid.safetensors": (EDGE_CASES["ok"], "safe"),
    "empty.safetensors": (EDGE_CASES["empty-object"], "safe"),
    "seq.safetensors": (EDGE_CASES["sequence-form"], "safe"),
    "f4.safetensors": (F4_EVEN, "safe"),
    "f4odd.safetensors": (F4_ODD_LAST, "unsupported"),
    "f6.safetensors": (F6, "unsupported"),
    "valid.bin": (EDGE_CASES["ok"], "unsupported"),
    "hole.safetensors": (EDGE_CASES["hole"], "malformed"),
    "pickle.safetensors": (PICKLE, "unsupported"),
}


def test_torch_view(tmp_path: Path) -> None:
    paths = {}
    for name, (data, _) in TORCH_CASES.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    results = weights_only_batch([(p, (), ()) for p in paths.values()])
    for (name, (_, verdict)), res in zip(TORCH_CASES.items(), results, strict=True):
        scanned = scan_file(paths[name])
        assert scanned.verdict.value == verdict, (name, scanned.findings)
        assert (verdict == "safe") == res.ok, (name, res)


def test_torch_zip_named_safetensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    path = tmp_path / "model.safetensors"
    torch.save({"w": torch.ones(2)}, str(path))
    result = scan_file(path)
    assert result.verdict.value == "unsupported"
    assert (result.torch_error or "").startswith("SafetensorError")


def test_safetensors_header_only_is_read() -> None:
    reads: list[tuple[int, int]] = []

    class Counting(BytesSource):
        def read_at(self, offset: int, length: int) -> bytes:
            reads.append((offset, length))
            return super().read_at(offset, length)

    header = st_file('{"t":{"dtype":"U8","shape":[1000000],"data_offsets":[0,1000000]}}')
    src = Counting(header + b"\0" * 1_000_000, "big.safetensors")
    read_header(src)
    assert all(offset + length <= len(header) for offset, length in reads)


def test_scan_bytes_without_suffix_is_not_safe() -> None:
    assert scan_bytes(EDGE_CASES["ok"], name="x").verdict.value == "unsupported"
