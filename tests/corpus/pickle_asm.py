"""A tiny pickle assembler: named opcodes, automatic length fields.

Used by the corpus generators to write pickles that `pickle.dumps` would never produce
(payloads, protocol mixes, memo tricks) and by scanner unit tests to build exact inputs.

    >>> Asm(protocol=2).global_("builtins", "print").string("hi").tuple1().reduce().stop()

Every method appends opcodes and returns the assembler, so programs read top to bottom.
`Asm.bytes()` returns the pickle; `disassemble(data)` is `pickletools.dis` as a string.
"""

from __future__ import annotations

import io
import pickletools
import struct
from typing import Any

# Opcode bytes by pickletools name, so callers and tests can refer to them by name.
OP: dict[str, bytes] = {op.name: op.code.encode("latin-1") for op in pickletools.opcodes}


class Asm:
    """Append-only pickle program.

    `protocol` only chooses the default encodings of `string`, `int_`, `bytes_`, `put`
    and `get`; every opcode can still be emitted explicitly. `header=True` starts the
    program with a PROTO opcode when `protocol >= 2` (protocols 0 and 1 have none).
    """

    def __init__(self, protocol: int = 2, header: bool = True) -> None:
        self.protocol = protocol
        self._buf = bytearray()
        if header and protocol >= 2:
            self.proto(protocol)

    # -- output ------------------------------------------------------------------------
    def bytes(self) -> bytes:
        return bytes(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def op(self, name: str, arg: bytes = b"") -> Asm:
        """Emit opcode `name` followed by raw argument bytes."""
        self._buf += OP[name] + arg
        return self

    def raw(self, data: bytes) -> Asm:
        """Emit bytes verbatim (e.g. a nested program without its STOP)."""
        self._buf += data
        return self

    # -- framing and structure ---------------------------------------------------------
    def proto(self, n: int) -> Asm:
        return self.op("PROTO", bytes([n]))

    def frame(self, size: int) -> Asm:
        return self.op("FRAME", struct.pack("<Q", size))

    def stop(self) -> Asm:
        return self.op("STOP")

    def mark(self) -> Asm:
        return self.op("MARK")

    def pop(self) -> Asm:
        return self.op("POP")

    def pop_mark(self) -> Asm:
        return self.op("POP_MARK")

    def dup(self) -> Asm:
        return self.op("DUP")

    # -- globals and calls -------------------------------------------------------------
    def global_(self, module: str, name: str) -> Asm:
        """GLOBAL opcode (all protocols): `c<module>\\n<name>\\n`."""
        return self.op("GLOBAL", f"{module}\n{name}\n".encode())

    def stack_global(self) -> Asm:
        return self.op("STACK_GLOBAL")

    def sglobal(self, module: str, name: str) -> Asm:
        """Protocol-4 style: push both strings, then STACK_GLOBAL."""
        return self.string(module).string(name).stack_global()

    def inst(self, module: str, name: str) -> Asm:
        """INST: call `module.name(*items since MARK)` (protocol 0)."""
        return self.op("INST", f"{module}\n{name}\n".encode())

    def obj(self) -> Asm:
        return self.op("OBJ")

    def reduce(self) -> Asm:
        return self.op("REDUCE")

    def newobj(self) -> Asm:
        return self.op("NEWOBJ")

    def newobj_ex(self) -> Asm:
        return self.op("NEWOBJ_EX")

    def build(self) -> Asm:
        return self.op("BUILD")

    def persid(self, pid: str) -> Asm:
        return self.op("PERSID", pid.encode("ascii") + b"\n")

    def binpersid(self) -> Asm:
        return self.op("BINPERSID")

    def call(self, module: str, name: str, *args: Any) -> Asm:
        """`module.name(*args)` via GLOBAL + argument tuple + REDUCE; args are literals."""
        self.global_(module, name)
        return self.tuple_of(*args).reduce()

    # -- containers --------------------------------------------------------------------
    def empty_tuple(self) -> Asm:
        return self.op("EMPTY_TUPLE")

    def tuple(self) -> Asm:
        return self.op("TUPLE")

    def tuple1(self) -> Asm:
        return self.op("TUPLE1")

    def tuple2(self) -> Asm:
        return self.op("TUPLE2")

    def tuple3(self) -> Asm:
        return self.op("TUPLE3")

    def empty_list(self) -> Asm:
        return self.op("EMPTY_LIST")

    def list_(self) -> Asm:
        return self.op("LIST")

    def append(self) -> Asm:
        return self.op("APPEND")

    def appends(self) -> Asm:
        return self.op("APPENDS")

    def empty_dict(self) -> Asm:
        return self.op("EMPTY_DICT")

    def dict_(self) -> Asm:
        return self.op("DICT")

    def setitem(self) -> Asm:
        return self.op("SETITEM")

    def setitems(self) -> Asm:
        return self.op("SETITEMS")

    def empty_set(self) -> Asm:
        return self.op("EMPTY_SET")

    def additems(self) -> Asm:
        return self.op("ADDITEMS")

    def frozenset(self) -> Asm:
        return self.op("FROZENSET")

    def tuple_of(self, *items: Any) -> Asm:
        """Push a tuple of literal items with the shortest opcode for its length."""
        if not items:
            return self.empty_tuple()
        if len(items) <= 3 and self.protocol >= 2:
            for item in items:
                self.value(item)
            return self.op(("TUPLE1", "TUPLE2", "TUPLE3")[len(items) - 1])
        self.mark()
        for item in items:
            self.value(item)
        return self.tuple()

    # -- scalars -----------------------------------------------------------------------
    def none(self) -> Asm:
        return self.op("NONE")

    def bool_(self, value: bool) -> Asm:
        if self.protocol >= 2:
            return self.op("NEWTRUE" if value else "NEWFALSE")
        return self.op("INT", b"01\n" if value else b"00\n")

    def int_(self, value: int) -> Asm:
        """Shortest integer opcode available at this protocol."""
        if self.protocol == 0:
            return self.op("INT", f"{value}\n".encode())
        if 0 <= value < 256:
            return self.op("BININT1", bytes([value]))
        if 0 <= value < 65536:
            return self.op("BININT2", struct.pack("<H", value))
        if -(2**31) <= value < 2**31:
            return self.op("BININT", struct.pack("<i", value))
        if self.protocol >= 2:
            return self.long1(value)
        return self.op("LONG", f"{value}L\n".encode())

    def long1(self, value: int) -> Asm:
        data = pickle_long(value)
        return self.op("LONG1", bytes([len(data)]) + data)

    def long4(self, value: int) -> Asm:
        data = pickle_long(value)
        return self.op("LONG4", struct.pack("<i", len(data)) + data)

    def float_(self, value: float) -> Asm:
        if self.protocol == 0:
            return self.op("FLOAT", repr(value).encode() + b"\n")
        return self.op("BINFLOAT", struct.pack(">d", value))

    def string(self, value: str) -> Asm:
        """A str with the encoding pickle itself would choose at this protocol."""
        if self.protocol == 0:
            return self.unicode(value)
        data = value.encode("utf-8", "surrogatepass")
        if self.protocol >= 4 and len(data) < 256:
            return self.op("SHORT_BINUNICODE", bytes([len(data)]) + data)
        return self.binunicode(value)

    def unicode(self, value: str) -> Asm:
        """Protocol-0 UNICODE (raw-unicode-escape, newline-terminated)."""
        escaped = value.replace("\\", "\\u005c").replace("\n", "\\u000a")
        return self.op("UNICODE", escaped.encode("raw-unicode-escape") + b"\n")

    def binunicode(self, value: str) -> Asm:
        data = value.encode("utf-8", "surrogatepass")
        return self.op("BINUNICODE", struct.pack("<I", len(data)) + data)

    def short_binunicode(self, value: str) -> Asm:
        data = value.encode("utf-8", "surrogatepass")
        return self.op("SHORT_BINUNICODE", bytes([len(data)]) + data)

    def short_binstring(self, value: bytes) -> Asm:
        return self.op("SHORT_BINSTRING", bytes([len(value)]) + value)

    def binstring(self, value: bytes) -> Asm:
        return self.op("BINSTRING", struct.pack("<i", len(value)) + value)

    def string0(self, value: bytes) -> Asm:
        """Protocol-0 STRING (a quoted Python 2 str literal)."""
        return self.op("STRING", repr(value)[1:].encode("ascii") + b"\n")

    def bytes_(self, value: bytes) -> Asm:
        """bytes: BINBYTES at protocol >= 3, else `_codecs.encode(latin1 text, 'latin1')`."""
        if self.protocol >= 3:
            if len(value) < 256:
                return self.op("SHORT_BINBYTES", bytes([len(value)]) + value)
            return self.op("BINBYTES", struct.pack("<I", len(value)) + value)
        # What protocol 2 (and so torch.save) writes for a bytes object.
        self.global_("_codecs", "encode")
        return self.tuple_of(value.decode("latin-1"), "latin1").reduce()

    def bytearray8(self, value: bytes) -> Asm:
        return self.op("BYTEARRAY8", struct.pack("<Q", len(value)) + value)

    def value(self, obj: Any) -> Asm:
        """Push a literal: None, bool, int, float, str, bytes, tuple, list, dict."""
        if obj is None:
            return self.none()
        if isinstance(obj, bool):
            return self.bool_(obj)
        if isinstance(obj, int):
            return self.int_(obj)
        if isinstance(obj, float):
            return self.float_(obj)
        if isinstance(obj, str):
            return self.string(obj)
        if isinstance(obj, bytes):
            return self.bytes_(obj)
        if isinstance(obj, tuple):
            return self.tuple_of(*obj)
        if isinstance(obj, list):
            self.empty_list() if self.protocol >= 1 else self.mark().list_()
            if obj:
                self.mark()
                for item in obj:
                    self.value(item)
                self.appends()
            return self
        if isinstance(obj, dict):
            self.empty_dict() if self.protocol >= 1 else self.mark().dict_()
            if obj:
                self.mark()
                for key, item in obj.items():
                    self.value(key).value(item)
                self.setitems()
            return self
        raise TypeError(f"no literal encoding for {type(obj).__name__}")

    # -- memo --------------------------------------------------------------------------
    def put(self, index: int) -> Asm:
        """Store top of stack at `index` with the protocol's opcode."""
        if self.protocol == 0:
            return self.op("PUT", f"{index}\n".encode())
        if index < 256:
            return self.op("BINPUT", bytes([index]))
        return self.op("LONG_BINPUT", struct.pack("<I", index))

    def get(self, index: int) -> Asm:
        if self.protocol == 0:
            return self.op("GET", f"{index}\n".encode())
        if index < 256:
            return self.op("BINGET", bytes([index]))
        return self.op("LONG_BINGET", struct.pack("<I", index))

    def memoize(self) -> Asm:
        return self.op("MEMOIZE")


def pickle_long(value: int) -> bytes:
    """Two's-complement little-endian encoding used by LONG1/LONG4."""
    if value == 0:
        return b""
    length = (value.bit_length() >> 3) + 1
    data = value.to_bytes(length, "little", signed=True)
    if value < 0 and length > 1 and data[-1] == 0xFF and (data[-2] & 0x80):
        data = data[:-1]
    return data


def disassemble(data: bytes) -> str:
    """`pickletools.dis` output as a string (first pickle only)."""
    out = io.StringIO()
    pickletools.dis(data, out=out)
    return out.getvalue()


def embeddable(data: bytes, memo_base: int = 0) -> bytes:
    """Turn a complete pickle into a body that pushes its value inside another pickle.

    Drops PROTO, FRAME and the final STOP, and moves every memo slot up by `memo_base`
    (MEMOIZE becomes an explicit LONG_BINPUT) so the body cannot clobber the memo of
    the pickle it is spliced into.
    """
    ops = list(pickletools.genops(data))
    out = bytearray()
    memo_len = 0
    seen: set[int] = set()
    for i, (opcode, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        name = opcode.name
        if name in ("PROTO", "FRAME", "STOP"):
            continue
        if name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE"):
            index = memo_len if name == "MEMOIZE" else arg
            if index not in seen:
                seen.add(index)
                memo_len += 1
            out += OP["LONG_BINPUT"] + struct.pack("<I", index + memo_base)
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            out += OP["LONG_BINGET"] + struct.pack("<I", arg + memo_base)
        else:
            out += data[pos:end]
    return bytes(out)
