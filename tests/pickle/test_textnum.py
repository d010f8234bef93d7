"""Protocol 0 numbers against CPython's two unpicklers: INT, LONG and FLOAT lines read to
the value of the first unpickler that accepts them (C's, then pure Python's), refused
exactly when both refuse them."""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from torchvet.pickle.textnum import parse_float_line, parse_int_line, parse_long_line

# Spellings the two unpicklers read differently: signs, prefixes, leading zeros,
# underscores, whitespace, NUL bytes, exponents, a trailing L.
PIECES = [bytes([c]) for c in b"0123456789" * 3 + b"+-_ .xXoObBeEL\x00\tj"]
PIECES += [b"inf", b"nan", b"0x", b"0o", b"1e999", b"00", b"01"]
LINES = st.lists(st.sampled_from(PIECES), max_size=8).map(b"".join)
PARSERS: dict[bytes, Callable[[bytes], object]] = {
    b"I": parse_int_line,
    b"L": parse_long_line,
    b"F": parse_float_line,
}


def cpython_reads(opcode: bytes, text: bytes) -> list[object]:
    """The value each unpickler (C, then pure Python) loads, for those that accept it."""
    values = []
    for loads in (pickle.loads, pickle._loads):  # type: ignore[attr-defined]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                values.append(loads(opcode + text + b"\n."))
        except Exception:
            continue
    return values


def same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b and type(a) is type(b)  # True is not 1: I01 is a bool


@settings(max_examples=500, deadline=None)
@given(opcode=st.sampled_from(sorted(PARSERS)), text=LINES)
def test_numbers_read_as_the_first_accepting_unpickler_reads_them(opcode: bytes, text: bytes):
    accepted = cpython_reads(opcode, text)
    try:
        ours = PARSERS[opcode](text + b"\n")
    except ValueError:
        assert accepted == [], (opcode, text)
        return
    assert accepted and same(ours, accepted[0]), (opcode, text, ours, accepted)
