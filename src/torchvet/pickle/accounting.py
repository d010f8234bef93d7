"""The machine's accounting: what one stream may cost, and the file's shared budget.

``Limits`` bound one stream (opcodes, stack, memo, marks, issues kept); the current
``budget.Budget`` bounds the whole file across all its streams. The machine counts one
unit of work per opcode, and models ``charge`` more for walking or copying values the
memo lets a file reuse any number of times; a value too big to copy out of a buffer is
refused before it is read. Kept apart from the decoding in ``machine.py``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torchvet import budget as budgets
from torchvet.pickle.trace import Issue, IssueKind

if TYPE_CHECKING:
    from torchvet.pickle.opcodes import Opcode
    from torchvet.pickle.trace import StreamTrace


class _Stop(Exception):
    """Internal: reading cannot continue (decode failure or limit)."""


@dataclass(frozen=True)
class Limits:
    """Bounds of one stream. The file as a whole is bounded by the current
    ``budget.Budget`` (work across all its streams, size of one value)."""

    max_ops: int = 10_000_000  # units of work: opcodes, plus what models copy
    max_stack: int = 1_000_000
    max_memo: int = 1_000_000
    max_marks: int = 100_000
    # Issues of one kind kept per stream; the judge summarises beyond 20 anyway, and a
    # stream of a million bad opcodes must not hold a million messages.
    max_issues_per_kind: int = 256


# Length prefixes of variable-size arguments, to refuse a value beyond the budget's
# buffer bound before it is copied out of a (decompressed) buffer.
_LENGTH_PREFIX = {
    "string4": struct.Struct("<i"),
    "long4": struct.Struct("<i"),
    "bytes4": struct.Struct("<I"),
    "bytes8": struct.Struct("<Q"),
    "bytearray8": struct.Struct("<Q"),
    "unicodestring4": struct.Struct("<I"),
    "unicodestring8": struct.Struct("<Q"),
}
_LINE_ARGS = (
    "stringnl",
    "stringnl_noescape",
    "stringnl_noescape_pair",
    "unicodestringnl",
    "decimalnl_short",
    "decimalnl_long",
    "floatnl",
)
_SIZED_ARGS = frozenset(_LENGTH_PREFIX) | frozenset(_LINE_ARGS)
_MAX_MESSAGE = 2000  # characters kept of one issue's message


class Accounting:
    """Mixed into ``Machine``: the budget bookkeeping of one stream."""

    buf: bytes
    pos: int
    trace: StreamTrace
    limits: Limits
    _budget: budgets.Budget | None
    _synced: int
    op_limit: int
    _max_value: int
    _issue_counts: dict[IssueKind, int]

    def _limit(self, pos: int, message: str) -> None:
        raise NotImplementedError

    def sync_budget(self) -> None:
        """Take the work done so far from the file's budget and recompute where this
        stream must stop (another machine may have spent from it meanwhile)."""
        ops = self.trace.ops
        if self._budget is not None:
            self._budget.work -= ops - self._synced
            self._synced = ops
            self.op_limit = min(self.limits.max_ops, ops + max(0, self._budget.work))

    def charge(self, units: int) -> None:
        """Count work a model does beyond one opcode (copying or scanning a value that
        the memo lets a file reuse any number of times)."""
        if units > 0:
            self.trace.ops += units
            if self.trace.ops > self.op_limit:
                self._over_budget(self.pos)

    def _over_budget(self, pos: int) -> None:
        budget = self._budget
        if self.trace.ops > self.limits.max_ops or budget is None:
            self._limit(pos, f"more than {self.limits.max_ops} opcodes")
        if budget.work_spent_at is not None:
            raise _Stop  # said once per file: the next thousand members stop here too
        budget.work_spent_at = f"{self.trace.entry or 'the file'} at offset {pos}"
        self._limit(
            pos,
            f"the file's work budget ({budget.work_total} opcodes across all its pickles) "
            "is spent; the rest of this pickle, and any pickle after it, was not read",
        )

    def _check_value_size(self, op: Opcode, p: int) -> None:
        """Refuse one value bigger than the budget allows before the reader copies it
        (a decompressed buffer can hold a single 200 MB string)."""
        prefix = _LENGTH_PREFIX.get(op.arg)  # type: ignore[arg-type]
        if prefix is None:  # newline-terminated: the line must end within the bound
            lines = 2 if op.arg == "stringnl_noescape_pair" else 1
            end = p
            for _ in range(lines):
                end = self.buf.find(b"\n", end + 1, end + 1 + self._max_value)
                if end < 0:
                    size = len(self.buf) - p
                    break
            else:
                return
        elif p + 1 + prefix.size > len(self.buf):
            return  # the reader reports the truncation
        else:
            size = prefix.unpack_from(self.buf, p + 1)[0]
        if size > self._max_value and size <= len(self.buf) - p:
            self._limit(
                p,
                f"{op.name} at offset {p} holds a value of {budgets.human(size)}, more than "
                f"the {budgets.human(self._max_value)} torchvet keeps in memory",
            )

    def _summarise_dropped(self) -> None:
        cap = self.limits.max_issues_per_kind
        for kind, count in self._issue_counts.items():
            if count > cap:
                self.trace.events.append(
                    Issue(
                        self.pos,
                        IssueKind.NOTE,
                        f"{count - cap} more {kind.value} issues in this pickle were not recorded",
                    )
                )
