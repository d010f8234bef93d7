"""Argument readers, one per pickletools argument kind, over a bytes buffer.

Every reader takes ``(buf, pos)`` (``pos`` just after the opcode byte) and returns
``(value, new_pos)``. A length field is compared with the bytes actually present
before anything is sliced, so a forged 2**63 length costs nothing and is reported as
truncation. Values are decoded the way ``pickle``/torch decode them.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Callable

_U2 = struct.Struct("<H")
_I4 = struct.Struct("<i")
_U4 = struct.Struct("<I")
_U8 = struct.Struct("<Q")
_F8 = struct.Struct(">d")


class DecodeError(Exception):
    """The bytes cannot be read as the opcode's argument (truncated or invalid)."""


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
    """GLOBAL / INST: two newline-terminated UTF-8 lines, module then name."""
    module, pos = _line(buf, pos, "a module name")
    name, pos = _line(buf, pos, "a global name")
    try:
        return (module.decode("utf-8"), name.decode("utf-8")), pos
    except UnicodeDecodeError as exc:
        raise DecodeError(f"global name is not valid UTF-8: {exc.reason}") from None


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
        return RawString(codecs.escape_decode(data)[0]), pos
    except ValueError as exc:
        raise DecodeError(f"bad escape in STRING argument: {exc}") from None


def read_string1(buf: bytes, pos: int) -> tuple[object, int]:
    n, pos = read_uint1(buf, pos)
    data, pos = _sized(buf, pos, n, "string1")  # type: ignore[arg-type]
    return RawString(data), pos


def read_string4(buf: bytes, pos: int) -> tuple[object, int]:
    _need(buf, pos, 4, "string4 length")
    n = _I4.unpack_from(buf, pos)[0]
    if n < 0:
        raise DecodeError("BINSTRING pickle has negative byte count")
    data, pos = _sized(buf, pos + 4, n, "string4")
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


def read_decimalnl_short(buf: bytes, pos: int) -> tuple[object, int]:
    """INT: protocol 0 decimal line; ``00``/``01`` mean False/True."""
    data, pos = _line(buf, pos, "an INT argument")
    if data == b"00":
        return False, pos
    if data == b"01":
        return True, pos
    return _parse_int(data, "INT"), pos


def read_decimalnl_long(buf: bytes, pos: int) -> tuple[object, int]:
    data, pos = _line(buf, pos, "a LONG argument")
    if data.endswith(b"L"):
        data = data[:-1]
    return _parse_int(data, "LONG"), pos


def _parse_int(data: bytes, what: str) -> int:
    try:
        return int(data, 0)
    except ValueError as exc:
        raise DecodeError(f"invalid {what} argument: {str(exc)[:80]}") from None


def read_floatnl(buf: bytes, pos: int) -> tuple[object, int]:
    data, pos = _line(buf, pos, "a FLOAT argument")
    try:
        return float(data), pos
    except ValueError:
        raise DecodeError("invalid FLOAT argument") from None


def read_long1(buf: bytes, pos: int) -> tuple[object, int]:
    n, pos = read_uint1(buf, pos)
    data, pos = _sized(buf, pos, n, "long1")  # type: ignore[arg-type]
    return int.from_bytes(data, "little", signed=True), pos


def read_long4(buf: bytes, pos: int) -> tuple[object, int]:
    _need(buf, pos, 4, "long4 length")
    n = _I4.unpack_from(buf, pos)[0]
    if n < 0:
        raise DecodeError("LONG pickle has negative byte count")
    data, pos = _sized(buf, pos + 4, n, "long4")
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
