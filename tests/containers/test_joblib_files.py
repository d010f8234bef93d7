"""joblib files: arrays written inline after their wrappers, followed exactly as joblib.load.

joblib.load runs pickles, so benign files are only ever loaded here when they were
made by joblib.dump in this process; crafted files are never loaded unsafely.
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import joblib
import numpy as np
import pytest

from tests.corpus import Asm
from tests.corpus.containers import Raw, joblib_dump
from torchvet.containers.base import ScanContext
from torchvet.containers.joblib_files import stream_end
from torchvet.pickle.machine import Machine, run_stream
from torchvet.pickle.values import Value
from torchvet.policy.judge import Policy
from torchvet.scan import scan_bytes, scan_file

CTX = ScanContext(Policy.for_torch())
PAYLOAD = Asm(2).global_("os", "system").tuple_of("true").reduce().bytes()
OBJECTS = {
    "float": np.arange(5.0),
    "int8-big-endian": np.arange(7, dtype=">i2"),
    "unicode": np.array(["ab", "cde"]),
    "void": np.zeros(2, dtype="V7"),
    "datetime": np.array(["2020-01-01"], dtype="M8[ms]"),
    "structured": np.zeros(3, dtype=[("a", "<f4"), ("b", "<i8", (2,))]),
    "object": np.array([1, "a", None], dtype=object),
    "object-field": np.array([(1, "x")], dtype=[("a", "i4"), ("b", "O")]),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    "empty": np.zeros((0, 3)),
    "zero-d": np.array(3.5),
    "nested": [np.arange(3), {"x": np.ones(2), "y": (np.zeros(1), np.array(["q"], dtype=object))}],
    "shared": (lambda a: [a, a])(np.arange(4.0)),
}


def dump(obj: object, protocol: int, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joblib.dump(obj, path, protocol=protocol)
        joblib.load(path)  # made by joblib.dump here: safe to load, and it must load
    return path


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_joblib_dumps_are_followed(protocol: int, tmp_path: Path) -> None:
    for name, obj in OBJECTS.items():
        result = scan_file(dump({"v": obj, "after": 1}, protocol, tmp_path / f"{name}.joblib"))
        assert result.format == "joblib", name
        # pickle.load (not joblib.load) reads an object array's nested pickle with the
        # outer memo and would import memo strings as modules: unknown, said as such.
        misread = [f for f in result.findings if f.category.value == "unknown-global"]
        assert all(f.view == "pickle.load" for f in misread), (name, misread)
        expected = "unknown" if misread else "unsupported"
        assert result.verdict.value == expected, (name, result.findings)
        assert not any(f.category.value == "malformed" for f in result.findings)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_payload_after_arrays_is_found(protocol: int, tmp_path: Path) -> None:
    path = tmp_path / "evil.joblib"
    obj = {"v": np.arange(3.0), "o": np.array([1, None], dtype=object), "x": Raw(PAYLOAD)}
    joblib_dump(obj, path, protocol=min(protocol, 3))
    result = scan_file(path)
    assert result.verdict.value == "dangerous"
    assert any(f.global_name == "os.system" for f in result.findings)


def test_payload_inside_object_array_pickle() -> None:
    data = wrapper(Asm(2), "O8", align=None).stop().bytes()
    nested = Asm(2).raw(PAYLOAD).stop().bytes()
    cut = data.index(b".", len(data) - 1)
    result = scan_bytes(data[:cut] + nested + b".", name="x.joblib")
    assert result.format == "joblib"
    assert result.verdict.value == "dangerous"


def test_no_alignment_byte_when_file_has_no_position() -> None:
    class NoTell(io.BytesIO):
        def tell(self) -> int:
            raise io.UnsupportedOperation

    out = NoTell()
    joblib.dump({"v": np.arange(3.0), "w": np.arange(5, dtype=np.int16)}, out)
    data = out.getvalue()
    result = scan_bytes(data, name="x.joblib")
    assert result.format == "joblib" and result.verdict.value == "unsupported", result.findings


def wrapper(a: Asm, code: str = "f8", shape: tuple = (3,), align: int | None = 16) -> Asm:
    """A NumpyArrayWrapper as joblib pickles it (NEWOBJ, then BUILD with its __dict__)."""
    a.global_("joblib.numpy_pickle", "NumpyArrayWrapper").empty_tuple().newobj()
    a.empty_dict().mark()
    a.string("subclass").global_("numpy", "ndarray")
    a.string("shape").value(shape).string("order").string("C")
    a.string("dtype").global_("numpy", "dtype").tuple_of(code, False, True).reduce()
    a.mark().value(3).string("<").none().none().none().int_(-1).int_(-1).int_(0).tuple().build()
    a.string("allow_mmap").bool_(False)
    if align is not None:
        a.string("numpy_array_alignment_bytes").int_(align)
    return a.setitems().build()


def test_truncated_array_data_is_malformed() -> None:
    data = wrapper(Asm(2)).stop().bytes()
    build_end = len(data) - 1
    ok = data[:build_end] + b"\x00" + struct.pack("<3d", 1, 2, 3) + b"."
    assert scan_bytes(ok, name="x.joblib").verdict.value == "unsupported"
    short = data[:build_end] + b"\x00" + struct.pack("<2d", 1, 2)
    assert scan_bytes(short, name="x.joblib").verdict.value == "malformed"


def test_padding_byte_is_honoured() -> None:
    data = wrapper(Asm(2)).bytes()
    # Padding of 5 bytes: had it been ignored, they would be read as opcodes.
    evil = data + b"\x05" + b"c" * 5 + struct.pack("<3d", 1, 2, 3) + PAYLOAD + b"."
    assert scan_bytes(evil, name="x.joblib").verdict.value == "dangerous"


def test_array_bytes_read_by_pickle_load_are_scanned() -> None:
    # Padding length 78 is also the NONE opcode: joblib skips the padding, pickle.load
    # runs it.
    padding = PAYLOAD + b"0"  # POP
    padding += b"N" * (78 - len(padding))
    data = wrapper(Asm(2), shape=(4,), code="u1").bytes() + b"N" + padding + b"NNNN."
    result = scan_bytes(data, name="x.joblib")
    assert result.verdict.value == "dangerous"
    assert any(f.view == "pickle.load" for f in result.findings if f.category.value == "gadget")


def test_wrapper_inside_a_frame_is_not_guessed() -> None:
    body = wrapper(Asm(4, header=False)).op("NONE").op("POP").stop().bytes()
    data = Asm(4).frame(len(body)).raw(body).bytes() + b"\x00" + struct.pack("<3d", 1, 2, 3)
    result = scan_bytes(data, name="x.joblib")
    assert result.verdict.value == "unknown"
    assert any("frame" in f.message for f in result.findings)


def test_nested_stream_ends_at_its_frame_end() -> None:
    inner = Asm(4, header=False).value(1).stop().bytes()
    framed = Asm(4).frame(len(inner) + 5).raw(inner).raw(b"junk!").bytes()
    trace = run_stream(framed, "", CTX.naming, None, 0, None, CTX.knowledge)
    assert trace.stopped and trace.end == len(framed) - 5
    assert stream_end(framed, trace) == len(framed)


@pytest.mark.parametrize(
    ("filename", "verdict"), [("model.pkl_01.npy", "unknown"), ("/etc/passwd", "dangerous")]
)
def test_old_joblib_companion_files(filename: str, verdict: str) -> None:
    a = Asm(2).global_("joblib.numpy_pickle_compat", "NDArrayWrapper").empty_tuple().newobj()
    a.value({"filename": filename, "allow_mmap": True}).build().stop()
    result = scan_bytes(a.bytes(), name="old.pkl")
    assert result.format == "joblib"
    assert result.verdict.value == verdict


def test_after_build_hook() -> None:
    calls: list[int] = []

    def hook(m: Machine, inst: Value, state: Value) -> int:
        calls.append(m.pos)
        return 3 if len(calls) == 1 else -1

    a = Asm(2).global_("collections", "OrderedDict").empty_tuple().reduce().empty_dict().build()
    data = a.raw(b"xyz").empty_dict().build().stop().bytes()
    trace = run_stream(data, "", CTX.naming, None, 0, None, CTX.knowledge, hook)
    assert len(calls) == 2  # the 3 bytes were skipped, then the hook stopped the stream
    assert not trace.stopped and trace.end == calls[1]
    assert not trace.issues()
