"""Regression tests, one per divergence the differential fuzzer found: torchvet must read
on wherever one of CPython's unpicklers reads on, and see the globals it resolves.

Each case is checked against the real unpicklers (tests/decoder/oracle.py: find_class
records and returns an inert stub), so a test fails if CPython stops resolving the
global as much as if torchvet stops seeing it.
"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import pytest

from tests.corpus.containers import write_torch_zip
from tests.corpus.oracle import payload_fires
from tests.corpus.record import CorpusFile
from tests.decoder.oracle import MODES, check, run_loader, torchvet_view
from tests.pickle.helpers import kinds, run
from torchvet.check.detect import model_reason
from torchvet.pickle.textnum import HugeDecimal, parse_float_line, parse_int_line
from torchvet.pickle.trace import IssueKind
from torchvet.results import Category, Verdict
from torchvet.scan import scan_bytes

PAYLOAD = b"cos\nsystem\n"


def frame(length: int) -> bytes:
    return b"\x95" + struct.pack("<Q", length)


def resolved(data: bytes, mode: str) -> list[tuple[str, str]]:
    (spec,) = [m for m in MODES if m[0] == mode]
    return [(module, name) for module, name, _ in run_loader(data, spec).globals]


def assert_read_like_cpython(data: bytes, mode: str, expected: tuple[str, str]) -> None:
    assert expected in resolved(data, mode), "CPython no longer resolves it: update the case"
    assert check(data) == []
    assert expected in torchvet_view(data).raws


# -- numbers: INT (strtol base 0 in C), LONG, FLOAT, PUT/GET (base 10) -----------------
@pytest.mark.parametrize(
    "spelling", [b"07", b"010", b"+1", b"-0", b"5\x00junk", b"\x00", b" 7", b"0o17", b"1_0"]
)
def test_int_spellings_c_reads(spelling: bytes) -> None:
    assert_read_like_cpython(
        b"I" + spelling + b"\n0" + PAYLOAD + b".", "C/file/stub", ("os", "system")
    )


@pytest.mark.parametrize(("line", "value"), [(b"010\n", 8), (b"07\n", 7), (b"+1\n", True)])
def test_int_values_are_cs(line: bytes, value: int) -> None:
    got = parse_int_line(line)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("spelling", [b"5\x00junk", b"5\x00xL", b"00L"])
def test_long_spellings(spelling: bytes) -> None:
    assert_read_like_cpython(
        b"L" + spelling + b"\n0" + PAYLOAD + b".", "C/file/stub", ("os", "system")
    )


@pytest.mark.parametrize(
    ("spelling", "mode"),
    [
        (b" 1.5", "Py/stub"),
        (b"1_0.5", "Py/stub"),
        (b"1e999", "Py/stub"),
        (b"1.5\x00x", "C/file/stub"),
    ],
)
def test_float_spellings(spelling: bytes, mode: str) -> None:
    assert_read_like_cpython(b"F" + spelling + b"\n0" + PAYLOAD + b".", mode, ("os", "system"))


def test_float_overflow_reads_as_python_does() -> None:
    assert parse_float_line(b"1e999\n") == float("inf")


@pytest.mark.parametrize("index", [b"010", b"00", b" 7 ", b"+3", b"1_0", b"5\x00z", b"9" * 25])
def test_memo_index_spellings(index: bytes) -> None:
    data = b"\x80\x04\x8c\x02osp" + index + b"\n0g" + index + b"\n\x8c\x06system\x93."
    either = resolved(data, "C/file/stub") + resolved(data, "Py/stub")
    assert ("os", "system") in either
    assert check(data) == []


def test_long_literals_over_the_digit_limit_are_read() -> None:
    digits = b"9" * 5000
    data = b"Np" + digits + b"\n0g" + digits + b"\n0" + PAYLOAD + b"."
    trace = run(data)
    assert trace.stopped and IssueKind.DECODE not in kinds(trace)
    assert HugeDecimal(digits) != 0 and parse_int_line(digits + b"\n") == HugeDecimal(digits)


# -- GLOBAL / INST lines ------------------------------------------------------------------
def test_inst_without_mark_is_imported_by_pure_python() -> None:
    assert_read_like_cpython(b"ios\nsystem\n.", "Py/stub", ("os", "system"))


@pytest.mark.parametrize(
    ("tail", "name"), [(b"cos\nsystemX", "system"), (b"cantigravityX", "antigravity")]
)
def test_unterminated_last_line_loses_its_last_byte(tail: bytes, name: str) -> None:
    data = b"\x80\x02" + tail
    expected = ("os", name) if name == "system" else (name, "")
    assert_read_like_cpython(data, "Py/stub", expected)


def test_python2_names_resolve_as_pickle_maps_them() -> None:
    data = b"\x80\x02ccommands\ngetoutput\nX\x04\x00\x00\x00true\x85R."
    trace = run(data)
    assert {g.qualname for g in trace.globals()} >= {"subprocess.getoutput"}
    assert scan_bytes(data).verdict is Verdict.DANGEROUS


# -- FRAME ---------------------------------------------------------------------------------
def test_frame_longer_than_the_data_is_read_by_pure_python() -> None:
    data = b"\x80\x04" + frame(1000) + PAYLOAD + b"."
    assert resolved(data, "C/file/stub") == []  # C refuses the frame
    assert_read_like_cpython(data, "Py/stub", ("os", "system"))


def test_pickle_after_a_stop_inside_a_frame_starts_at_the_frame_end() -> None:
    body = b"N.\x7f\x7f"  # STOP, then bytes no loader reads as opcodes
    data = b"\x80\x04" + frame(len(body)) + body + b"\x80\x02" + PAYLOAD + b"."
    assert_read_like_cpython(data, "Py/stub", ("os", "system"))
    assert_read_like_cpython(data, "C/BytesIO/stub", ("os", "system"))


@pytest.mark.parametrize(
    ("body", "after", "expected"),
    [
        (b"cos\nsys", b"tem\n.", ("os", "tem")),  # the name line comes from after the frame
        (b"cbuil", b"tins\nset\n.", ("tins", "set")),
        (b"X\x0a\x00\x00\x00ab", b"cdefghij.\x7f" + PAYLOAD + b".", ("os", "system")),
        (b"N" + frame(20) + b"0", b"0" + PAYLOAD + b"." + b"\x7f" * 9, ("os", "system")),
    ],
)
def test_c_over_bytesio_reads_across_a_frame_end_from_the_file(
    body: bytes, after: bytes, expected: tuple[str, str]
) -> None:
    data = b"\x80\x04" + frame(len(body)) + body + after
    assert expected not in resolved(data, "C/file/stub")  # the linear reading differs
    assert_read_like_cpython(data, "C/BytesIO/stub", expected)


def test_the_pickle_after_a_spliced_reading_is_scanned() -> None:
    # Linear: an invalid \\u escape ends the stream. C over BytesIO reads the UNICODE
    # line from after the frame, finishes this pickle and loads the next one.
    data = b"\x80\x04" + frame(5) + b"V\\u12\nN." + b"\x80\x02" + PAYLOAD + b"."
    assert resolved(data, "C/file/stub") == []
    assert_read_like_cpython(data, "C/BytesIO/stub", ("os", "system"))


def test_spliced_reading_is_judged_with_its_view() -> None:
    body = b"X\x0a\x00\x00\x00ab"
    data = b"\x80\x04" + frame(len(body)) + body + b"cdefghij.\x7f" + PAYLOAD + b"."
    result = scan_bytes(data)
    gadgets = [f for f in result.findings if f.category is Category.GADGET]
    assert result.verdict is Verdict.DANGEROUS
    assert {f.view for f in gadgets} >= {"pickle.load(BytesIO), torch.load(weights_only=False)"}


def _unicode(text: str) -> bytes:
    data = text.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def test_torch_load_of_a_zip_runs_what_only_the_spliced_reading_shows(tmp_path: Path) -> None:
    # Linear reading: a 10-character string, STOP, junk. torch.load(weights_only=False)
    # reads data.pkl from BytesIO: the string's payload comes from after the frame, and
    # reading resumes on builtins.open(marker, "w").
    marker = tmp_path / "marker"
    body = b"X\x0a\x00\x00\x00ab"
    payload = b"0cbuiltins\nopen\n" + _unicode(str(marker)) + _unicode("w") + b"\x86R."
    pkl = b"\x80\x04" + frame(len(body)) + body + b"cdefghij.\x7f" + payload
    path = tmp_path / "spliced.pt"
    write_torch_zip(path, [("data.pkl", pkl)])
    record = CorpusFile(
        path, "spliced-frame", "payload after a frame end", "torch-zip", "malicious",
        trigger="torch.load", fires=True, marker=marker,
    )  # fmt: skip
    assert payload_fires(record, tmp_path)
    result = scan_bytes(path.read_bytes(), name=str(path))
    assert result.verdict is Verdict.DANGEROUS
    views = {f.view for f in result.findings if f.global_name == "builtins.open"}
    assert "pickle.load(BytesIO), torch.load(weights_only=False)" in views


def test_next_buffer_reads_on() -> None:
    data = b"\x80\x05\x970" + PAYLOAD + b"."
    trace = run(data)
    assert ("os", "system") in {g.raw for g in trace.globals()}


def test_build_on_an_ordereddict_made_by_obj_is_read() -> None:
    # The fuzzer's one crash: models assumed every OrderedDict instance was a dict value.
    data = b"(ccollections\nOrderedDict\no}X\x01\x00\x00\x00aK\x01sb."
    assert ("collections", "OrderedDict") in resolved(data, "C/file/stub")
    assert check(data) == []
    assert scan_bytes(data).verdict is not Verdict.SAFE


def test_a_read_that_c_reads_otherwise_is_at_least_unknown() -> None:
    data = b"\x80\x04" + frame(2) + b"I12\n."  # the INT line is 12 in memory, 2 over BytesIO
    trace = run(data)
    assert trace.straddles and IssueKind.UNVERIFIED in kinds(trace)
    assert scan_bytes(data).verdict is Verdict.UNKNOWN


def test_reads_c_reads_alike_are_not_flagged() -> None:
    # A bytes payload across the frame's end: C continues from its buffer (ReadInto).
    data = b"\x80\x04" + frame(3) + b"C\x04abcd0N."
    assert pickle.load(io.BytesIO(data)) is None and pickle.loads(data) is None
    assert not run(data).straddles
    truncated = pickle.dumps({"a": list(range(50))}, protocol=4)[:-5]
    assert not run(truncated).straddles
    assert scan_bytes(truncated).verdict is Verdict.MALFORMED


def test_check_finds_a_pickle_that_only_c_over_a_file_reads(tmp_path: Path) -> None:
    data = frame(5) + b"V\\u12\n0" + PAYLOAD + b"."  # no PROTO: it could pass for text
    assert resolved(data, "C/file/stub") == []
    assert ("os", "system") in resolved(data, "C/BytesIO/stub")
    path = tmp_path / "notes.txt"
    path.write_bytes(data)
    assert model_reason(str(path)) is not None
