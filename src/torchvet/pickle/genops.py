"""Walking a stream's opcodes by the pickletools table, outside the symbolic machine.

``iter_ops`` is torchvet's ``pickletools.genops``: the opcodes of a stream read as
``pickle.loads`` reads memory (frames do not change what is read), each argument
decoded by ``readers.py`` as the unpicklers decode it. Code that only needs the shape
of a stream (the newest protocol it uses, where a frame ends) walks it with this rather
than with a loop of its own. ``STACK_NEEDS`` gives, from the same table, how many stack
items each opcode takes; the machine checks it before running an opcode's effect.
"""

from __future__ import annotations

import pickletools
from collections.abc import Iterator

from torchvet.pickle.opcodes import BY_CODE, Opcode
from torchvet.pickle.readers import READERS


def iter_ops(
    buf: bytes, pos: int = 0, end: int | None = None, *, past_stop: bool = False
) -> Iterator[tuple[Opcode, object, int, int]]:
    """``(opcode, argument, offset, offset of the next opcode)`` from ``pos`` on.

    Stops after STOP (unless ``past_stop``), before a byte that is no opcode, at the end
    of the data, and before the first opcode at or after ``end``. An argument that
    cannot be read raises ``readers.DecodeError``, as genops raises ValueError."""
    limit = len(buf) if end is None else min(end, len(buf))
    while pos < limit:
        op = BY_CODE[buf[pos]]
        if op is None:
            return
        arg, nxt = (None, pos + 1) if op.arg is None else READERS[op.arg](buf, pos + 1)
        yield op, arg, pos, nxt
        if op.name == "STOP" and not past_stop:
            return
        pos = nxt


# Opcodes whose effect checks the stack itself, where CPython does: POP pops a MARK when
# the stack is empty, MEMOIZE checks the memo's bounds first. Opcodes that take a MARK
# check it (and what lies below it) in their effect too: INST imports before that.
_CHECKED_BY_EFFECT = frozenset({"POP", "MEMOIZE"})


def _stack_needs() -> tuple[int, ...]:
    needs = [0] * 256
    for info in pickletools.opcodes:
        marked = pickletools.markobject in info.stack_before
        if not marked and info.name not in _CHECKED_BY_EFFECT:
            needs[ord(info.code)] = len(info.stack_before)
    return tuple(needs)


# Stack items (above the last MARK) each opcode byte takes: pickletools' stack_before.
STACK_NEEDS: tuple[int, ...] = _stack_needs()
