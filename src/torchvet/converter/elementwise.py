"""Element-wise byte transforms without numpy: byte-swapping, sign flips, negation.

Each works on a whole buffer at C speed where it can: ``array.byteswap`` for
endianness, one big-integer XOR for sign-bit flips (conj, float neg),
``bytes.translate`` for one-byte negation. Only two's complement negation of
multi-byte integers loops in Python, and torch never writes such files in practice
(a neg bit on an integer tensor needs ``torch._neg_view``).
"""

from __future__ import annotations

import array
import sys
from functools import cache

_TYPECODES = {a.itemsize: a.typecode for a in (array.array(t) for t in "BHILQ")}


def typecode(itemsize: int) -> str:
    """An unsigned ``array``/``memoryview`` format of this width."""
    return _TYPECODES[itemsize]


def byteswap(buf: bytes | bytearray | memoryview, width: int) -> bytes:
    """Reverse the byte order of every ``width``-byte word."""
    if width == 1 or not buf:
        return bytes(buf)
    words = array.array(typecode(width))
    words.frombytes(buf)
    words.byteswap()
    return words.tobytes()


@cache
def _mask(pattern: bytes, length: int) -> int:
    return int.from_bytes(pattern * (length // len(pattern)), "little")


def xor_pattern(buf: bytes | bytearray | memoryview, pattern: bytes) -> bytes:
    """XOR every ``len(pattern)``-byte group of ``buf`` with ``pattern``."""
    n = len(buf)
    if n == 0:
        return b""
    value = int.from_bytes(buf, "little") ^ _mask(pattern, n)
    return value.to_bytes(n, "little")


def sign_pattern(width: int, every: int = 1, phase: int = 0) -> bytes:
    """Top bit of each little-endian ``width``-byte word; with ``every=2, phase=1`` only
    every second word (the imaginary parts of complex numbers)."""
    words = []
    for i in range(every):
        top = b"\x00" * (width - 1) + (b"\x80" if i % every == phase or every == 1 else b"\x00")
        words.append(top)
    return b"".join(words)


_NEG_BYTE = bytes((-b) & 0xFF for b in range(256))


def negate_twos(buf: bytes | bytearray | memoryview, width: int) -> bytes:
    """Two's complement negation of each ``width``-byte little-endian integer (wrapping)."""
    if width == 1:
        return bytes(buf).translate(_NEG_BYTE)
    words = array.array(typecode(width))
    words.frombytes(buf)
    if sys.byteorder == "big":  # array reads host order; the data is little-endian
        words.byteswap()
    mask = (1 << (8 * width)) - 1
    out = array.array(words.typecode, [(-w) & mask for w in words])
    if sys.byteorder == "big":
        out.byteswap()
    return out.tobytes()
