"""The pickle opcode table, derived from CPython's ``pickletools.opcodes``.

``pickletools`` is the exact, documented description of protocols 0-5 (68 opcodes:
name, code, argument descriptor, protocol). We take the table from it rather than
retyping it. We do not reuse its argument *readers* (``genops``): they decode
differently from the unpicklers we must predict (they escape-decode and ASCII-decode
GLOBAL names, where pickle and torch read raw UTF-8; they return SHORT_BINSTRING as
latin-1 text, where torch decodes UTF-8 strictly) and they read through a file
object one call at a time. ``readers.py`` has one small reader per argument kind,
keyed by the descriptor names below, over a bytes buffer with explicit offsets.
Which opcodes torch's weights-only unpickler implements is a fact of each torch
release (``TorchFacts.weights_only_opcodes``).
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass

# pickletools describes PUT's and GET's argument as INT's (decimalnl_short), but both
# unpicklers read a memo index in base 10 (``p010`` is 10, where INT's ``I010`` is 8).
_ARG_OVERRIDES = {"PUT": "decimalnl_index", "GET": "decimalnl_index"}


@dataclass(frozen=True, slots=True)
class Opcode:
    name: str
    code: int  # the opcode byte
    arg: str | None  # pickletools ArgumentDescriptor name, None if no argument
    proto: int  # protocol that introduced it

    @property
    def char(self) -> str:
        return chr(self.code)


def _build_table() -> tuple[Opcode, ...]:
    table = []
    for info in pickletools.opcodes:
        table.append(
            Opcode(
                name=info.name,
                code=ord(info.code),
                arg=_ARG_OVERRIDES.get(info.name, info.arg.name if info.arg else None),
                proto=info.proto,
            )
        )
    return tuple(table)


OPCODES: tuple[Opcode, ...] = _build_table()
BY_NAME: dict[str, Opcode] = {op.name: op for op in OPCODES}
# Indexed by opcode byte; None for bytes that are not opcodes.
BY_CODE: tuple[Opcode | None, ...] = tuple(
    next((op for op in OPCODES if op.code == b), None) for b in range(256)
)

assert len(OPCODES) == 68, "pickletools' opcode table changed; review the machine"
