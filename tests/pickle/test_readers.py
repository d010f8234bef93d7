"""Argument readers against pickletools and CPython: each reads exactly the bytes the
argument takes, decodes the value pickle decodes, and fails with DecodeError (never
another exception, never an allocation) on truncated or forged arguments."""

from __future__ import annotations

import itertools
import pickle
import pickletools
import struct
from collections import OrderedDict

import pytest

from torchvet.pickle.opcodes import BY_NAME
from torchvet.pickle.readers import READERS, DecodeError, PartialGlobal, RawString

VALUES = {
    "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31, -(2**31), 2**70, -(2**70), 2**2100],
    "floats": [0.5, -1e300, float("inf")],
    "text": ["", "ascii", "ünïcödé", "x" * 300],
    "bytes": [b"", b"\x00\xff" * 200, bytearray(b"ba")],
    "nested": ((1, 2), [3, {4: 5}], {frozenset({1}), 2}),
    "flags": (True, False, None),
    "od": OrderedDict(a=1),
}
# Arguments CPython's pickler does not write for VALUES, spelled as the unpicklers read them.
HANDWRITTEN = [
    b"S'it\\'s\\n'\n.",  # STRING, escaped
    b"T\x03\x00\x00\x00abc.",  # BINSTRING
    b"U\x03\xe9t\xe9.",  # SHORT_BINSTRING: bytes, decoded later by the unpickler's encoding
    b"Ppersistent-id\n.",  # PERSID
    b"L123456789012345678901234567890L\n.",  # LONG
    b"I01\n.",  # INT spelling of True
    b"ccollections\nOrderedDict\n.",  # GLOBAL
    b"(imodule\nName\n.",  # INST
    b"\x82\x07.",  # EXT1
    b"\x83\x07\x01.",  # EXT2
    b"\x84\x07\x01\x00\x00.",  # EXT4
    b"\x8e" + struct.pack("<Q", 3) + b"abc.",  # BINBYTES8
    b"\x8d" + struct.pack("<Q", 2) + b"\xc3\xa9.",  # BINUNICODE8
    b"\x96" + struct.pack("<Q", 2) + b"ab.",  # BYTEARRAY8
    b"Vcaf\\u00e9\n.",  # UNICODE, raw-unicode-escape
    b"\x95" + struct.pack("<Q", 2) + b"N.",  # FRAME
    b"Np7\n0g7\n.",  # PUT / GET
    b"Nr" + struct.pack("<I", 7) + b"0j" + struct.pack("<I", 7) + b".",  # LONG_BINPUT/GET
]
STREAMS = [pickle.dumps(VALUES, protocol=p) for p in range(pickle.HIGHEST_PROTOCOL + 1)]
STREAMS += HANDWRITTEN


def _arguments() -> list[tuple[bytes, str, object, int, int]]:
    """(stream, reader name, pickletools' value, argument start, argument end)."""
    out = []
    for data in STREAMS:
        ops = list(pickletools.genops(data))
        for (op, arg, pos), (_, _, after) in itertools.pairwise(ops):
            reader = BY_NAME[op.name].arg
            if reader is not None:
                out.append((data, reader, arg, pos + 1, after))
    return out


ARGUMENTS = _arguments()


def _as_pickletools_shows(value: object) -> object:
    """pickletools gives protocol 0-2 byte strings as latin-1 text and a GLOBAL as
    "module name"; the readers keep the bytes and the pair."""
    if isinstance(value, RawString):
        return bytes(value).decode("latin-1")
    if isinstance(value, tuple):
        return " ".join(value)  # type: ignore[arg-type]
    return value


def test_every_reader_is_exercised() -> None:
    assert {reader for _, reader, _, _, _ in ARGUMENTS} == set(READERS)


def test_each_reader_reads_what_pickletools_reads() -> None:
    for data, reader, expected, start, end in ARGUMENTS:
        value, after = READERS[reader](data, start)
        assert after == end, (reader, data[start:end])
        assert _as_pickletools_shows(value) == expected, (reader, value, expected)
        assert type(value) is not bool or type(expected) is bool, reader  # I01 is True


def test_byte_strings_keep_their_bytes_for_the_unpicklers_encoding() -> None:
    value, _ = READERS["string1"](b"\x03\xe9t\xe9", 0)
    assert isinstance(value, RawString) and bytes(value) == b"\xe9t\xe9"
    assert pickle.loads(b"U\x03\xe9t\xe9.", encoding="bytes") == bytes(value)


def test_every_truncation_is_a_decode_error() -> None:
    for data, reader, _, start, end in ARGUMENTS:
        for cut in range(start, min(end, start + 12)):
            with pytest.raises(DecodeError):
                READERS[reader](data[:cut], start)


@pytest.mark.parametrize("reader", ["bytes8", "bytearray8", "unicodestring8"])
def test_a_forged_length_costs_nothing(reader: str) -> None:
    with pytest.raises(DecodeError, match="but only 1 remain"):
        READERS[reader](struct.pack("<Q", 2**63 - 1) + b"x", 0)


@pytest.mark.parametrize("reader", ["string4", "long4"])
def test_negative_lengths_are_refused_as_cpython_refuses_them(reader: str) -> None:
    opcode = {"string4": b"T", "long4": b"\x8b"}[reader]
    data = struct.pack("<i", -1) + b"xx"
    with pytest.raises(pickle.UnpicklingError):
        pickle.loads(opcode + data + b".")
    with pytest.raises(DecodeError, match="negative byte count"):
        READERS[reader](data, 0)


def test_an_unterminated_global_still_names_what_pure_python_pickle_imports() -> None:
    with pytest.raises(PartialGlobal) as caught:
        READERS["stringnl_noescape_pair"](b"os\nsystemX", 0)
    assert caught.value.names == ("os", "system")


def test_unquoted_strings_and_bad_utf8_are_decode_errors() -> None:
    for reader, data in [
        ("stringnl", b"abc\n"),
        ("unicodestring1", b"\x01\xff"),
        ("stringnl_noescape_pair", b"\xff\nx\n"),
        ("stringnl_noescape", b"\xff\n"),
    ]:
        with pytest.raises(DecodeError):
            READERS[reader](data, 0)
