"""Argument readers, one per pickletools argument kind, over a bytes buffer.

Every reader takes ``(buf, pos)`` (``pos`` just after the opcode byte) and returns
``(value, new_pos)``. A length field is compared with the bytes actually present
before anything is sliced, so a forged 2**63 length costs nothing and is reported as
truncation. Values are decoded the way ``pickle``/torch decode them, and a reader
fails only where every CPython unpickler fails too (``textnum.py`` for numbers).
"""

from __future__ import annotations

import codecs
import struct
import warnings
from collections.abc import Callable

from torchvet.pickle import textnum

_U2 = struct.Struct("<H")
_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_F8 = struct.Struct(">d")


class DecodeError(Exception):
    """The bytes cannot be read as the opcode's argument (truncated or invalid)."""


class PartialGlobal(DecodeError):
    """GLOBAL/INST whose last line has no newline at the end of the data. The pure-Python
    unpickler (joblib, pandas' fallback) reads such a line without complaint, drops its
    last byte as if it were the newline, and imports the result before failing at EOF;
    ``names`` is that (module, name)."""

    def __init__(self, message: str, names: tuple[str, str]) -> None:
        super().__init__(message)
        self.names = names


class RawString(bytes):
    """A protocol 0-2 byte string (STRING/BINSTRING/SHORT_BINSTRING): its decoding to
    ``str`` depends on the unpickler's ``encoding``, so it is kept as bytes."""


def _need(buf: bytes, pos: int, n: int, what: str) -> None:
    remaining = len(buf) - pos
    if n > remaining:
        raise DecodeError(f"expected {n} bytes in a {what}, but only {max(remaining, 0)} remain")


def _fixed(st: struct.Struct, what: str) -> Callable[[bytes, int], tuple[object, int]]:
    size = st.size

    def read(buf: bytes, pos: int) -> tuple[object, int]:
        _need(buf, pos, size, what)
        return st.unpack_from(buf, pos)[0], pos + size

    return read


def read_uint1(buf: bytes, pos: int) -> tuple[object, int]:
    if pos >= len(buf):
        raise DecodeError("expected 1 byte in a uint1, but only 0 remain")
    return buf[pos], pos + 1


def _line(buf: bytes, pos: int, what: str) -> tuple[bytes, int]:
    end = buf.find(b"\n", pos)
    if end < 0:
        raise DecodeError(f"no newline found when trying to read {what}")
    return buf[pos:end], end + 1


def _sized(buf: bytes, pos: int, n: int, what: str) -> tuple[bytes, int]:
    _need(buf, pos, n, what)
    return buf[pos : pos + n], pos + n


def read_stringnl_noescape_pair(buf: bytes, pos: int) -> tuple[object, int]:
    """GLOBAL / INST: two newline-terminated UTF-8 lines, module then name (INST is
    ASCII in CPython, a subset). Empty lines are read: pickle.py looks them up."""
    module, end = _line_or_rest(buf, pos)
    name, end = _line_or_rest(buf, end) if end >= 0 else (b"", -1)
    try:
        names = (module.decode("utf-8"), name.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DecodeError(f"global name is not valid UTF-8: {exc.reason}") from None
    if end < 0:
        raise PartialGlobal("no newline found when trying to read a global name", names)
    return names, end


def _line_or_rest(buf: bytes, pos: int) -> tuple[bytes, int]:
    """A line without its newline, or (at the end of the data) what pickle.py's
    ``readline()[:-1]`` makes of the unterminated rest, with end -1."""
    end = buf.find(b"\n", pos)
    if end < 0:
        return buf[pos:-1] if pos < len(buf) else b"", -1
    return buf[pos:end], end + 1


def read_stringnl_noescape(buf: bytes, pos: int) -> tuple[object, int]:
    """PERSID: one ASCII line."""
    data, pos = _line(buf, pos, "a persistent id")
    try:
        return data.decode("ascii"), pos
    except UnicodeDecodeError:
        raise DecodeError("persistent id is not ASCII") from None


def read_stringnl(buf: bytes, pos: int) -> tuple[object, int]:
    """STRING: a quoted, backslash-escaped line (pickle's protocol 0 repr)."""
    data, pos = _line(buf, pos, "a STRING argument")
    if len(data) >= 2 and data[0] == data[-1] and data[:1] in (b"'", b'"'):
        data = data[1:-1]
    else:
        raise DecodeError("the STRING opcode argument must be quoted")
    try:
        with warnings.catch_warnings():  # invalid escapes warn (kept, as CPython keeps them)
            warnings.simplefilter("ignore")
            return RawString(codecs.escape_decode(data)[0]), pos
    except ValueError as exc:
        raise DecodeError(f"bad escape in STRING argument: {exc}") from None


def read_string1(buf: bytes, pos: int) -> tuple[object, int]:
    n, pos = read_uint1(buf, pos)
    data, pos = _sized(buf, pos, n, "string1")  # type: ignore[arg-type]
    return RawString(data), pos


def _sized4(buf: bytes, pos: int, what: str, opname: str) -> tuple[bytes, int]:
    """A signed 4-byte length, then that many bytes (BINSTRING, LONG4)."""
    _need(buf, pos, 4, f"{what} length")
    n = _I4.unpack_from(buf, pos)[0]
    if n < 0:
        raise DecodeError(f"{opname} pickle has negative byte count")
    return _sized(buf, pos + 4, n, what)


def read_string4(buf: bytes, pos: int) -> tuple[object, int]:
    data, pos = _sized4(buf, pos, "string4", "BINSTRING")
    return RawString(data), pos


def _bytes_reader(
    length: Callable[[bytes, int], tuple[object, int]], what: str, kind: type = bytes
) -> Callable[[bytes, int], tuple[object, int]]:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        n, pos = length(buf, pos)
        data, pos = _sized(buf, pos, n, what)  # type: ignore[arg-type]
        return kind(data), pos

    return read


def _unicode_reader(
    length: Callable[[bytes, int], tuple[object, int]], what: str
) -> Callable[[bytes, int], tuple[object, int]]:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        n, pos = length(buf, pos)
        data, pos = _sized(buf, pos, n, what)  # type: ignore[arg-type]
        try:
            return str(data, "utf-8", "surrogatepass"), pos
        except UnicodeDecodeError as exc:
            raise DecodeError(f"{what} is not valid UTF-8: {exc.reason}") from None

    return read


def read_unicodestringnl(buf: bytes, pos: int) -> tuple[object, int]:
    data, pos = _line(buf, pos, "a UNICODE argument")
    try:
        return data.decode("raw-unicode-escape"), pos
    except UnicodeDecodeError as exc:
        raise DecodeError(f"bad UNICODE argument: {exc.reason}") from None


def _number_line(
    parse: Callable[[bytes], object], what: str
) -> Callable[[bytes, int], tuple[object, int]]:
    def read(buf: bytes, pos: int) -> tuple[object, int]:
        end = buf.find(b"\n", pos)
        if end < 0:
            raise DecodeError(f"no newline found when trying to read {what}")
        try:
            return parse(buf[pos : end + 1]), end + 1
        except ValueError as exc:
            raise DecodeError(f"invalid {what}: {str(exc)[:80]}") from None

    return read


read_decimalnl_short = _number_line(textnum.parse_int_line, "an INT argument")
read_decimalnl_long = _number_line(textnum.parse_long_line, "a LONG argument")
read_floatnl = _number_line(textnum.parse_float_line, "a FLOAT argument")
read_decimalnl_index = _number_line(textnum.parse_index_line, "a memo index")


def read_long1(buf: bytes, pos: int) -> tuple[object, int]:
    n, pos = read_uint1(buf, pos)
    data, pos = _sized(buf, pos, n, "long1")  # type: ignore[arg-type]
    return int.from_bytes(data, "little", signed=True), pos


def read_long4(buf: bytes, pos: int) -> tuple[object, int]:
    data, pos = _sized4(buf, pos, "long4", "LONG")
    return int.from_bytes(data, "little", signed=True), pos


read_uint2 = _fixed(_U2, "uint2")
read_int4 = _fixed(_I4, "int4")
read_uint4 = _fixed(_U4, "uint4")
read_uint8 = _fixed(_U8, "uint8")
read_float8 = _fixed(_F8, "float8")

# Keyed by pickletools ArgumentDescriptor.name.
READERS: dict[str, Callable[[bytes, int], tuple[object, int]]] = {
    "uint1": read_uint1,
    "uint2": read_uint2,
    "int4": read_int4,
    "uint4": read_uint4,
    "uint8": read_uint8,
    "float8": read_float8,
    "floatnl": read_floatnl,
    "decimalnl_short": read_decimalnl_short,
    "decimalnl_long": read_decimalnl_long,
    "decimalnl_index": read_decimalnl_index,  # torchvet's: PUT/GET (see opcodes.py)
    "long1": read_long1,
    "long4": read_long4,
    "stringnl": read_stringnl,
    "stringnl_noescape": read_stringnl_noescape,
    "stringnl_noescape_pair": read_stringnl_noescape_pair,
    "string1": read_string1,
    "string4": read_string4,
    "bytes1": _bytes_reader(read_uint1, "bytes1"),
    "bytes4": _bytes_reader(read_uint4, "bytes4"),
    "bytes8": _bytes_reader(read_uint8, "bytes8"),
    "bytearray8": _bytes_reader(read_uint8, "bytearray8", bytearray),
    "unicodestringnl": read_unicodestringnl,
    "unicodestring1": _unicode_reader(read_uint1, "unicodestring1"),
    "unicodestring4": _unicode_reader(read_uint4, "unicodestring4"),
    "unicodestring8": _unicode_reader(read_uint8, "unicodestring8"),
}
