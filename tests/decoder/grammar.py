"""A grammar of pickle streams for the differential fuzzer: valid and near-valid.

``StreamGen(seed).stream()`` returns one byte string: one or more pickles (protocol 0-5
mixes, every one of the 68 opcodes), with the argument spellings the two CPython
unpicklers disagree on (leading zeros, signs, whitespace, underscores, NUL-terminated
junk, ``L`` suffixes, quoting and escapes), frames of the right, too short and too long
size, marks, memo traffic under every PUT/GET spelling, STACK_GLOBAL names pushed by
every string opcode or fetched from the memo, dotted and Python 2 names, persistent
ids, extension codes, out-of-band buffers, concatenation, junk, truncation and a few
random byte flips. Lengths a loader would allocate up front stay small.

The grammar is an expression grammar: ``value()`` emits opcodes that push one object
when everything is spelled validly; a small share of choices is deliberately wrong
(an extra POP, a missing MARK, an invalid spelling) so that error paths are reached too.
Output is a list of opcode chunks so that frames can be laid over chunk boundaries.
"""

from __future__ import annotations

import random
import struct

# (module, name) pairs: gadgets, allowlisted torch names, Python 2 names that
# fix_imports maps, dotted attribute chains, odd and empty names.
NAMES: tuple[tuple[str, str], ...] = (
    ("os", "system"),
    ("posix", "system"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("builtins", "__import__"),
    ("builtins", "set"),
    ("__builtin__", "eval"),
    ("__builtin__", "set"),
    ("__builtin__", "unicode"),
    ("commands", "getoutput"),
    ("cPickle", "loads"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("subprocess", "Popen"),
    ("exceptions", "StandardError"),
    ("UserDict", "UserDict"),
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch", "FloatStorage"),
    ("torch", "Size"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("os", "path.join"),
    ("numpy.dtypes", "__loader__.set_data"),
    ("builtins", "__builtins__.get"),
    ("antigravity", "x"),
    ("", "x"),
    ("builtins", ""),
    ("a b", "c\rd"),
    ("é", "ü"),
)

# Spellings of the text number opcodes: (accepted by at least one CPython unpickler,
# refused by both).
INT_SPELLINGS = (
    (
        b"7", b"07", b"010", b"0", b"00", b"01", b"1", b"+0", b"-0", b" 1", b"+1", b"-7",
        b" 5", b"5 ", b"\t3", b"0x1F", b"0X1f", b"0o17", b"0b101", b"1_000", b"5\x00junk",
        b"\x00", b"0_0", b"99999999999999999999", b"-9223372036854775808",
        b"9223372036854775808", b"7" * 5000,
    ),
    (b"08", b"0_7", b"077777777777777777777777", b"", b"1L", b"0x", b"- 1"),
)  # fmt: skip
LONG_SPELLINGS = (
    (
        b"7L", b"0L", b"00L", b"5\x00xL", b" 5L", b"5 L", b"-3L", b"0x10L", b"7", b"0", b"00",
        b"1_000", b"99999999999999999999", b"5\x00junk", b"9" * 5000 + b"L",
    ),
    (b"12LL", b"L", b"07", b"010", b"08", b""),
)  # fmt: skip
FLOAT_SPELLINGS = (
    (
        b"1.5", b" 1.5", b"1.5 ", b"1_0.5", b"1e999", b"-1e999", b"1e-999", b"inf",
        b"-Infinity", b"nan", b"+NaN", b"1.5\x00x", b".5", b"5.", b"3", b"1E+2",
    ),
    (b"0x10", b"1e", b"", b"infx"),
)  # fmt: skip
# Memo index spellings of the value k: {k} is replaced.
INDEX_SPELLINGS = (
    b"{k}", b"0{k}", b"00{k}", b" {k}", b"{k} ", b"+{k}", b"{k}\x00z", b"\t{k}\r",
)  # fmt: skip
BAD_INDEXES = (b"-1", b"", b"0x1", b"1_", b"99999999999999999999", b"-0", b"1.0")
STRING_BODIES = (
    b"os", b"system", b"builtins", b"eval", b"a\\x41", b"\\n", b"\\q", b"\\", b"\xc3\xa9",
    b"\xff", b"it's", b'"', b"",
)  # fmt: skip


def _u8(n: int) -> bytes:
    return bytes([n & 0xFF])


class StreamGen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.chunks: list[bytes] = []
        self.memo: list[int] = []
        self.depth = 0

    # -- top level --------------------------------------------------------------------
    def stream(self) -> bytes:
        rng = self.rng
        parts = [self.pickle()]
        while rng.random() < 0.25 and len(parts) < 4:
            if rng.random() < 0.2:
                parts.append(rng.choice((b"junk", b"\n", b"\x00", b"(", b"N")))
            parts.append(self.pickle())
        data = b"".join(parts)
        if rng.random() < 0.15 and data:
            data = data[: rng.randrange(len(data))]  # truncation, often mid-argument
        if rng.random() < 0.1:
            data = self._flip(data)
        return data

    def _flip(self, data: bytes) -> bytes:
        buf = bytearray(data)
        for _ in range(self.rng.randint(1, 3)):
            if buf:
                buf[self.rng.randrange(len(buf))] = self.rng.randrange(256)
        return bytes(buf)

    def pickle(self) -> bytes:
        rng = self.rng
        self.chunks, self.memo, self.depth = [], [], 0
        proto = rng.choice((None, None, 0, 1, 2, 2, 3, 4, 5, 5))
        if rng.random() < 0.03:
            proto = rng.choice((6, 255))  # torch reads on, CPython stops
        if proto is not None:
            self.emit(b"\x80" + _u8(proto))
        for index in range(rng.choice((1, 1, 1, 2, 3))):
            if index and rng.random() < 0.8:
                self.emit(b"0")  # POP the previous top-level value
            self.value()
            if rng.random() < 0.3:
                self.statement()
        if rng.random() < 0.97:
            self.emit(b".")
        chunks = self.frame(self.chunks) if rng.random() < 0.3 else self.chunks
        return b"".join(chunks)

    def emit(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def frame(self, chunks: list[bytes]) -> list[bytes]:
        """Lay FRAME opcodes over chunk boundaries: exact, short, long, nested, huge."""
        rng = self.rng
        out: list[bytes] = []
        i = 0
        while i < len(chunks):
            if rng.random() < 0.35:
                j = rng.randint(i + 1, len(chunks))
                size = sum(map(len, chunks[i:j]))
                size = rng.choice((size, size, size, size - 1, size + 1, size + 5, 0, 10**6))
                if rng.random() < 0.02:
                    size = rng.choice((2**63, 2**64 - 1))
                out.append(b"\x95" + struct.pack("<Q", max(size, 0)))
            out.append(chunks[i])
            i += 1
        return out

    # -- values: each pushes one object when spelled validly ---------------------------
    def value(self) -> None:
        self.depth += 1
        rng = self.rng
        roll = rng.random()
        if self.depth > 4 or roll < 0.35:
            self.scalar()
        elif roll < 0.6:
            self.global_()
        elif roll < 0.8:
            self.call()
        else:
            self.container()
        if rng.random() < 0.2:
            self.memo_put()
        self.depth -= 1

    def scalar(self) -> None:
        rng = self.rng
        kind = rng.randrange(24)
        if kind in (19, 20) and rng.random() < 0.7:
            kind = 0  # EXT and NEXT_BUFFER end every CPython reading: keep them rare
        if kind < 8:
            self.number()
        elif kind < 14:
            body = rng.choice((b"os", b"system", b"x", b"\xc3\xa9", b"\xff", b"big"))
            if body == b"big":  # frames over 512 bytes and across 4 and 8 KiB blocks
                body = b"z" * rng.choice((300, 600, 3000, 5000, 9000))
            self.text(body)
        elif kind < 16:
            self.memo_get()
        elif kind == 16:
            self.emit(rng.choice((b"N", b"\x88", b"\x89", b")", b"]", b"}", b"\x8f")))
        elif kind == 17:  # BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
            op, fmt = rng.choice(((b"B", "<I"), (b"C", "<B"), (b"\x8e", "<Q"), (b"\x96", "<Q")))
            self.emit(op + struct.pack(fmt, 2) + b"ab")
        elif kind == 18:
            self.persistent()
        elif kind == 19:
            self.emit(
                rng.choice((b"\x82\x01", b"\x82\x00", b"\x83\x01\x00", b"\x84\xff\xff\xff\xff"))
            )
        elif kind == 20:
            self.emit(b"\x97")  # NEXT_BUFFER
            if rng.random() < 0.5:
                self.emit(b"\x98")  # READONLY_BUFFER
        elif kind == 21:
            self.emit(rng.choice((b"J\x01\x00\x00\x00", b"K\x07", b"M\x01\x02", b"G" + bytes(8))))
        else:
            self.emit(
                rng.choice(
                    (b"\x8a\x02\x01\x00", b"\x8b\x01\x00\x00\x00\x05", b"\x8b\xff\xff\xff\xff")
                )
            )

    def number(self) -> None:
        rng = self.rng
        op = rng.choice((b"I", b"L", b"F"))
        good, bad = {b"I": INT_SPELLINGS, b"L": LONG_SPELLINGS, b"F": FLOAT_SPELLINGS}[op]
        self.emit(op + rng.choice(good if rng.random() < 0.9 else bad) + b"\n")

    def text(self, body: bytes) -> None:
        """Push a str (or bytes) through one of the seven string opcodes."""
        rng = self.rng
        kind = rng.randrange(8)
        if kind == 0:
            q = rng.choice((b"'", b'"'))
            close = q if rng.random() < 0.95 else b"'" if q == b'"' else b'"'
            inner = body if rng.random() < 0.8 else rng.choice(STRING_BODIES)
            self.emit(b"S" + q + inner + close + b"\n")
        elif kind == 1:
            self.emit(b"T" + struct.pack("<i", len(body)) + body)
        elif kind == 2:
            self.emit(b"U" + _u8(len(body)) + body)
        elif kind == 3:
            esc = body if rng.random() < 0.8 else rng.choice((b"\\u0041", b"\\u12", b"\\", body))
            self.emit(b"V" + esc + b"\n")
        elif kind == 4:
            self.emit(b"X" + struct.pack("<I", len(body)) + body)
        elif kind == 5:
            self.emit(b"\x8d" + struct.pack("<Q", len(body)) + body)
        else:
            self.emit(b"\x8c" + _u8(len(body)) + body)

    def persistent(self) -> None:
        if self.rng.random() < 0.5:
            self.emit(b"P" + self.rng.choice((b"storage", b"", b"\xe9")) + b"\n")
        else:
            self.text(b"pid")
            self.emit(b"Q")

    # -- globals and calls -------------------------------------------------------------
    def global_(self) -> None:
        rng = self.rng
        module, name = rng.choice(NAMES)
        kind = rng.randrange(5)
        if kind <= 1:
            line = module.encode() + b"\n" + name.encode() + b"\n"
            if rng.random() < 0.05:
                line = rng.choice((b"\xff\n", b"os\n\xfe\n", b"os\nsystem"))
            self.emit(b"c" + line)
        elif kind <= 3:
            self.text(module.encode())
            if rng.random() < 0.3:
                self.memo_put()
            self.text(name.encode())
            self.emit(b"\x93")
        else:  # INST: calls the class with the items since MARK
            self.emit(b"(")
            if rng.random() < 0.5:
                self.scalar()
            line = module.encode() + b"\n" + name.encode() + b"\n"
            self.emit(b"i" + line)

    def call(self) -> None:
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 5:  # OBJ: MARK class args OBJ
            self.emit(b"(")
        self.global_()
        if kind < 3:
            self.args_tuple()
            self.emit(b"R")  # REDUCE
        elif kind == 3:
            self.args_tuple()
            self.emit(b"\x81")  # NEWOBJ
        elif kind == 4:
            self.args_tuple()
            self.emit(b"}")
            self.emit(b"\x92")  # NEWOBJ_EX
        else:
            self.args_items()
            self.emit(b"o")
        if rng.random() < 0.3:
            self.value()
            self.emit(b"b")  # BUILD

    def args_tuple(self) -> None:
        rng = self.rng
        n = rng.choice((0, 1, 1, 2, 3, 4))
        if n == 0:
            self.emit(b")")
            return
        if n <= 3 and rng.random() < 0.6:
            for _ in range(n):
                self.value()
            self.emit(bytes([0x84 + n]))  # TUPLE1..3
            return
        self.emit(b"(")
        for _ in range(n):
            self.value()
        self.emit(b"t")

    def args_items(self) -> None:
        for _ in range(self.rng.choice((0, 1, 2))):
            self.value()

    # -- containers --------------------------------------------------------------------
    def container(self) -> None:
        rng = self.rng
        kind = rng.randrange(7)
        if kind == 0:
            self.emit(b"]")
            self.emit(b"(")
            self.args_items()
            self.emit(rng.choice((b"e", b"e", b"l")))  # APPENDS (or LIST: near-valid)
        elif kind == 1:
            self.emit(b"]")
            self.value()
            self.emit(b"a")
        elif kind == 2:
            self.emit(b"}")
            self.text(b"k")
            self.value()
            self.emit(b"s")
        elif kind == 3:
            self.emit(b"}(")
            for _ in range(rng.choice((0, 1, 2))):
                self.text(b"k")
                self.value()
            self.emit(b"u")
        elif kind == 4:
            self.emit(b"(")
            for _ in range(rng.choice((0, 2, 4))):
                self.scalar()
            self.emit(rng.choice((b"d", b"l", b"t", b"\x91")))  # DICT LIST TUPLE FROZENSET
        elif kind == 5:
            self.emit(b"\x8f(")
            self.args_items()
            self.emit(b"\x90")  # ADDITEMS
        else:
            self.emit(b"(")
            self.value()
            self.emit(rng.choice((b"1", b"0", b"2", b"t")))  # POP_MARK / POP / DUP / TUPLE

    def statement(self) -> None:
        """Net-zero work on the top value: memo traffic, DUP/POP, MARK/POP_MARK, PROTO."""
        rng = self.rng
        kind = rng.randrange(6)
        if kind == 0:
            self.memo_put()
        elif kind == 1:
            self.emit(b"20")  # DUP POP
        elif kind == 2:
            self.emit(b"(1")  # MARK POP_MARK
        elif kind == 3:
            self.emit(b"\x80" + _u8(rng.choice((0, 2, 4, 5, 6))))
        elif kind == 4:
            self.memo_get()
            self.emit(b"0")
        else:
            self.emit(b"(" + b"0")  # MARK POP: POP of an empty stack pops the mark

    # -- memo --------------------------------------------------------------------------
    def memo_put(self) -> None:
        rng = self.rng
        k = rng.choice((len(self.memo), len(self.memo), rng.randrange(300), 2**20))
        kind = rng.randrange(5)
        if kind == 0:
            self.emit(b"\x94")  # MEMOIZE
            k = len(self.memo)
        elif kind == 1 and k < 256:
            self.emit(b"q" + _u8(k))
        elif kind == 2:
            self.emit(b"r" + struct.pack("<I", k))
        elif rng.random() < 0.9:
            self.emit(b"p" + rng.choice(INDEX_SPELLINGS).replace(b"{k}", str(k).encode()) + b"\n")
        else:
            self.emit(b"p" + rng.choice(BAD_INDEXES) + b"\n")
        self.memo.append(k)

    def memo_get(self) -> None:
        rng = self.rng
        k = rng.choice(self.memo) if self.memo and rng.random() < 0.9 else rng.randrange(4)
        kind = rng.randrange(3)
        if kind == 0 and k < 256:
            self.emit(b"h" + _u8(k))
        elif kind == 1:
            self.emit(b"j" + struct.pack("<I", k))
        elif rng.random() < 0.9:
            self.emit(b"g" + rng.choice(INDEX_SPELLINGS).replace(b"{k}", str(k).encode()) + b"\n")
        else:
            self.emit(b"g" + rng.choice(BAD_INDEXES) + b"\n")
