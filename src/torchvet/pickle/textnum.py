"""Protocol 0 numbers as *either* CPython unpickler reads them.

The C unpickler (``_pickle``: ``pickle.load``, ``torch.load(weights_only=False)``,
numpy, pandas) and the pure-Python one (``pickle._Unpickler``: joblib, pandas' fallback)
parse the text arguments of INT, LONG, FLOAT, PUT and GET differently, and the scanner
must read on wherever either of them does. Measured on CPython 3.11 (``_pickle.c``
``load_int``/``load_long``/``load_float``/``load_get``/``load_put`` and ``pickle.py``):

* INT: C calls ``strtol(line, 0)`` (leading whitespace, a sign, ``0x`` hex and
  *leading-zero octal*: ``I010`` is 8) and accepts when it stops at the newline or at a
  NUL byte (``I5\\0junk``), else falls back to ``int(line, 0)`` up to the first NUL. A
  3-byte line whose value is 0 or 1 is a bool (``I00``, ``I+1``). Python: ``00``/``01``
  are bools, else ``int(line, 0)`` (no leading zeros, no NUL).
* LONG: both strip one trailing ``L`` and call ``int(text, 0)``; C stops at a NUL.
* FLOAT: Python calls ``float()`` (whitespace, underscores, ``1e999`` is inf); C parses
  the longest float prefix and accepts it before a newline or NUL (no whitespace, no
  underscores, OverflowError on ``1e999``).
* PUT/GET: base-10 ``int()`` (leading zeros, whitespace, sign and underscores are fine);
  C stops at a NUL. Negative PUT indexes fail in both; C also fails above ``2**63``.

Each function returns the value of the first reading that succeeds (C's, then Python's)
or raises ``ValueError`` when neither unpickler accepts the line. ``line`` is the
argument line *with* its newline.

Python's ``int()`` refuses decimal literals of more than ``sys.get_int_max_str_digits()``
digits, a limit a loading process may lift; such a literal is accepted here as a
``HugeDecimal`` placeholder rather than converted (the conversion is quadratic).
"""

from __future__ import annotations

import math
import re

_C_SPACE = b" \t\n\v\f\r"
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
# What PyOS_string_to_double reads: no whitespace, no underscores, no hex.
_C_FLOAT = re.compile(
    rb"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf(?:inity)?|nan)",
    re.IGNORECASE,
)
# int(text, 0) / int(text, 10) syntax, used only to accept literals over the digit limit.
_DECIMAL = re.compile(rb"[ \t\n\v\f\r]*[+-]?[1-9](?:_?[0-9])*[ \t\n\v\f\r]*")


class HugeDecimal(int):
    """A decimal literal too long to convert cheaply. Its numeric value is unknown (0
    here); as a memo index it is equal only to the same literal."""

    text: bytes

    def __new__(cls, text: bytes) -> HugeDecimal:
        self = super().__new__(cls, 0)
        self.text = text.strip().lstrip(b"+").replace(b"_", b"")
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HugeDecimal) and other.text == self.text

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"HugeDecimal({len(self.text)} digits)"


def _int(text: bytes, base: int) -> int:
    try:
        return int(text, base)
    except ValueError as exc:
        if _DECIMAL.fullmatch(text) and "digits" in str(exc):
            return HugeDecimal(text)
        raise


def _c_string(line: bytes) -> bytes:
    """The line as a C string: what C's parsers see stops at the first NUL."""
    nul = line.find(b"\0")
    return line if nul < 0 else line[:nul]


def _strtol0(s: bytes) -> tuple[int, int, bool]:
    """glibc ``strtol(s, &end, 0)`` in the C locale: (value, end index, overflowed)."""
    i, n = 0, len(s)
    while i < n and s[i] in _C_SPACE:
        i += 1
    negative = i < n and s[i] == 0x2D
    if i < n and s[i] in b"+-":
        i += 1
    if s[i : i + 2] in (b"0x", b"0X") and i + 2 < n and _digit(s[i + 2], 16):
        base, i = 16, i + 2
    elif s[i : i + 1] == b"0":
        base = 8
    else:
        base = 10
    start = i
    while i < n and _digit(s[i], base):
        i += 1
    if i == start:
        return 0, 0, False  # no conversion: end points at the start of the string
    value = int(s[start:i], base)
    value = -value if negative else value
    return value, i, not _LONG_MIN <= value <= _LONG_MAX


def _digit(byte: int, base: int) -> bool:
    if 0x30 <= byte <= 0x39:
        return byte - 0x30 < base
    return base == 16 and (0x61 <= byte | 0x20 <= 0x66)


def parse_int_line(line: bytes) -> int | bool:
    """INT (decimalnl_short)."""
    try:
        return _c_int(line)
    except ValueError:
        pass
    if line == b"00\n":
        return False
    if line == b"01\n":
        return True
    return _int(line, 0)


def _c_int(line: bytes) -> int | bool:
    if len(line) < 2:
        raise ValueError("pickle data was truncated")
    s = _c_string(line)
    value, end, overflow = _strtol0(s)
    if overflow or (end < len(s) and s[end] != 0x0A):
        return _int(s, 0)  # C falls back to PyLong_FromString(s, NULL, 0)
    if len(line) == 3 and value in (0, 1):
        return bool(value)
    return value


def parse_long_line(line: bytes) -> int:
    """LONG (decimalnl_long): C's reading, which accepts everything Python's does."""
    text = line[:-1] if line.endswith(b"\n") else line
    if not text:
        raise ValueError("pickle data was truncated")
    if text.endswith(b"L"):
        text = text[:-1]
    return _int(_c_string(text), 0)


def parse_float_line(line: bytes) -> float:
    """FLOAT (floatnl)."""
    text = line[:-1] if line.endswith(b"\n") else line
    try:
        return float(text)  # Python's reading
    except ValueError:
        pass
    m = _C_FLOAT.match(text)
    if m is None or (m.end() < len(text) and text[m.end()] != 0):
        raise ValueError("could not convert string to float")
    value = float(m.group())
    if math.isinf(value) and b"inf" not in m.group().lower():
        raise ValueError("value too large to convert to float")  # C's OverflowError
    return value


def parse_index_line(line: bytes) -> int:
    """PUT / GET memo index: base-10 text, C's reading (a superset of Python's)."""
    if len(line) < 2:
        raise ValueError("pickle data was truncated")
    return _int(_c_string(line), 10)
