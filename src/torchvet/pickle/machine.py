"""The symbolic pickle machine.

It reads every opcode of protocols 0-5 and keeps a symbolic value (``values.py``) in
every stack and memo slot, exactly where a real unpickler keeps objects, but it never
imports a module and never calls anything: a global is a name, a call is a record.
What a known callable returns (a tensor, an OrderedDict, a numpy dtype whose runtime
type BUILD will check) comes from ``models``.

Dispatch is table-driven: ``_handler_table()`` maps each opcode byte of the pickletools
table to one small effect method, and ``genops.STACK_NEEDS`` gives, from the same table,
how many stack items the opcode takes, checked before its effect runs. The effects live
by family: framing, stack and memo here, values in ``valueops.py``, globals and calls
in ``callops.py``. Every read is bounded by the bytes present, and the machine stops
with a LIMIT issue when a pickle exceeds the op, stack, memo or nesting bounds, so a
hostile stream costs bounded time and memory.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn

from torchvet import budget as budgets
from torchvet.pickle import models
from torchvet.pickle.accounting import _MAX_MESSAGE, _SIZED_ARGS, Accounting, Limits, _Stop
from torchvet.pickle.callops import CallOps, PersistentLoader
from torchvet.pickle.frames import FramePolicy, Frames
from torchvet.pickle.genops import STACK_NEEDS
from torchvet.pickle.hashwork import HashWork
from torchvet.pickle.naming import Naming
from torchvet.pickle.opcodes import BY_CODE, Opcode
from torchvet.pickle.readers import DecodeError, PartialGlobal
from torchvet.pickle.trace import Issue, IssueKind, StreamTrace
from torchvet.pickle.valueops import ValueOps
from torchvet.pickle.values import Const, Value

__all__ = ["AfterBuild", "Limits", "Machine", "Naming", "PersistentLoader", "run_stream"]

# Called after BUILD with (machine, instance, state); returns how many bytes to skip
# before the next opcode (joblib reads array data inline), or -1 to stop reading.
AfterBuild = Callable[["Machine", Value, Value], int]


class Machine(Accounting, ValueOps, CallOps):
    """Runs one pickle stream symbolically. Create one per stream."""

    def __init__(
        self,
        buf: bytes,
        entry: str,
        naming: Naming,
        persistent_load: PersistentLoader | None = None,
        limits: Limits | None = None,
        start: int = 0,
        knowledge: models.Knowledge | None = None,
        after_build: AfterBuild | None = None,
        splice: FramePolicy | None = None,
    ) -> None:
        self.buf = buf
        # splice None: the linear reading (frames ignored). Else which frames the C
        # unpickler read(n)-buffers, so that a read across their end skips to it.
        self.frames = Frames(splice)
        self.after_build = after_build
        self.naming = naming
        self.persistent_load = persistent_load
        self.limits = limits or Limits()
        self.knowledge = knowledge or models.Knowledge()
        self.facts = self.knowledge.facts  # the torch release whose unpickler is predicted
        self.trace = StreamTrace(entry=entry, start=start, end=start)
        self.stack: list[Value] = []
        self.metastack: list[list[Value]] = []
        self.memo: dict[int, Value] = {}
        self._memo_capacity = 32  # slots of the C unpickler's memo array (it starts at 32)
        self.proto = 0  # as CPython's unpicklers track it, for their name mapping
        self.pos = start  # offset of the current opcode
        self._budget = budgets.current()
        self._synced = 0  # work already taken from the budget
        self.op_limit = self.limits.max_ops  # trace.ops at which reading stops
        self._max_value = self._budget.value if self._budget else len(buf)
        self._issue_counts: dict[IssueKind, int] = {}
        self._seen_globals: set[tuple[str, str, str]] = set()
        self._seen_types: set[str] = set()
        self.hashes = HashWork()  # what inserting the stream's keys costs a real unpickler
        self.effects = models.Effects(self, self.knowledge.facts, self.hashes)  # for models

    # ------------------------------------------------------------------ driver
    def run(self) -> StreamTrace:
        buf = self.buf
        n = len(buf)
        p = self.trace.start
        limits = self.limits
        trace = self.trace
        handlers = _handler_table()  # built once: a zip of 10k pickles runs 10k machines
        needs = STACK_NEEDS
        max_value = self._max_value
        weights_only = self.facts.weights_only_opcodes
        self.sync_budget()
        try:
            while True:
                if p >= n:
                    self._fail(p, "pickle ends before STOP (truncated)", torch_message="EOFError")
                code = buf[p]
                op = BY_CODE[code]
                self.pos = p
                if op is None:
                    self._fail(
                        p,
                        f"byte 0x{code:02x} at offset {p} is not a pickle opcode",
                        torch_message=self.facts.message("unsupported_operand", code=code),
                    )
                trace.ops += 1
                if trace.ops > self.op_limit:
                    self._over_budget(p)
                if op.name not in weights_only:
                    self.issue(
                        IssueKind.OPCODE,
                        f"opcode {op.name} (protocol {op.proto}) is not supported by torch's "
                        "weights-only unpickler",
                        torch_message=self.facts.message("unsupported_operand", code=code),
                    )
                arg = None
                q = p + 1
                if op.arg is not None:
                    if n - p > max_value and op.arg in _SIZED_ARGS:
                        self._check_value_size(op, p)
                    arg, q = self._read_arg(op, q)
                self.next_pos = q
                if len(self.stack) < needs[code]:
                    self._underflow()
                handlers[code](self, arg, op)  # type: ignore[misc]
                p = self.next_pos
                if op.name == "STOP":
                    trace.stopped = True
                    break
                if len(self.stack) > limits.max_stack:
                    self._limit(p, f"stack deeper than {limits.max_stack} items")
        except _Stop:
            pass
        self._note_straddle()
        self.sync_budget()
        self._summarise_dropped()
        trace.end = p if not trace.stopped else self.next_pos
        return trace

    def _note_straddle(self) -> None:
        at = self.frames.straddle_at
        if at is None:
            return
        self.trace.straddles = True
        # Other buffering than the readings run (frames.READINGS) could mix them.
        self.issue(
            IssueKind.UNVERIFIED,
            f"a read at offset {at} crosses the end of a FRAME: pickle.load over a file "
            "object reads other bytes there than over memory; torchvet judged its usual "
            "readings, not every way a file object can buffer",
            pos=at,
        )

    def _read_arg(self, op: Opcode, q: int) -> tuple[object, int]:
        try:
            return self.frames.read(self.buf, op.arg, q)  # type: ignore[arg-type]
        except DecodeError as exc:
            if isinstance(exc, PartialGlobal):
                self._global(*exc.names, op.name)  # pickle.py imports it before failing
            self._fail(self.pos, f"{op.name} at offset {self.pos}: {exc}")

    # ------------------------------------------------------------------ helpers
    def issue(
        self,
        kind: IssueKind,
        message: str,
        torch_message: str | None = None,
        global_name: str | None = None,
        pos: int | None = None,
    ) -> None:
        count = self._issue_counts.get(kind, 0) + 1
        self._issue_counts[kind] = count
        if count > self.limits.max_issues_per_kind:
            return  # counted, summarised at the end of the stream
        if len(message) > _MAX_MESSAGE:  # a name read from the file can be megabytes long
            message = message[:_MAX_MESSAGE] + "..."
        if torch_message is not None and len(torch_message) > _MAX_MESSAGE:
            torch_message = torch_message[:_MAX_MESSAGE] + "..."
        self.trace.events.append(
            Issue(self.pos if pos is None else pos, kind, message, torch_message, global_name)
        )

    def _fail(self, pos: int, message: str, torch_message: str | None = None) -> NoReturn:
        self.trace.events.append(Issue(pos, IssueKind.DECODE, message, torch_message))
        raise _Stop

    def _limit(self, pos: int, message: str) -> None:
        self.trace.events.append(
            Issue(pos, IssueKind.LIMIT, f"pickle exceeds torchvet's bounds: {message}")
        )
        raise _Stop

    def push(self, v: Value) -> None:
        self.stack.append(v)

    def top(self) -> Value:
        if not self.stack:
            self._underflow()
        return self.stack[-1]

    def _underflow(self) -> NoReturn:
        self._fail(self.pos, f"stack underflow at offset {self.pos}", "IndexError")

    def pop_mark(self) -> list[Value]:
        if not self.metastack:
            self._fail(
                self.pos, f"MARK expected at offset {self.pos} (no mark on the stack)", "IndexError"
            )
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def const(self, value: object) -> Const:
        return Const(self.pos, value)

    def _after_build(self, inst: Value, state: Value) -> None:
        if self.after_build is not None:
            self.sync_budget()  # the hook may run nested streams on the same budget
            skip = self.after_build(self, inst, state)
            self.sync_budget()
            if skip < 0:
                raise _Stop
            self.next_pos += skip

    # ------------------------------------------------------------------ protocol framing
    def op_PROTO(self, arg: object, op: Opcode) -> None:
        self.trace.proto = arg  # type: ignore[assignment]
        if not 0 <= arg <= 5:  # type: ignore[operator]
            # Python's unpicklers stop here; torch's weights-only one reads on.
            self.issue(
                IssueKind.NOTE, f"pickle protocol {arg} is newer than Python's pickle supports"
            )
        else:
            self.proto = arg  # type: ignore[assignment]

    def op_FRAME(self, arg: object, op: Opcode) -> None:
        # The linear reading ignores frames (pickle.loads; the pure-Python unpickler,
        # which also reads a frame longer than the data, e.g. joblib); frames.py has the
        # C unpickler's reading over a file object.
        length: int = arg  # type: ignore[assignment]
        if length > sys.maxsize:
            self._fail(self.pos, f"FRAME of {length} bytes exceeds sys.maxsize")
        try:
            self.next_pos, oversized = self.frames.open(len(self.buf), self.next_pos, length)
        except DecodeError as exc:
            self._fail(self.pos, f"FRAME at offset {self.pos}: {exc}")
        if oversized:
            self.issue(
                IssueKind.NOTE,
                f"FRAME at offset {self.pos} declares {length} bytes, more than remain: "
                "pickle.load refuses it, pickle's pure-Python unpickler (joblib) reads on",
            )
        self.trace.frame_end = self.frames.furthest

    def op_STOP(self, arg: object, op: Opcode) -> None:
        self.trace.root = self.stack.pop()

    # ------------------------------------------------------------------ stack manipulation
    def op_MARK(self, arg: object, op: Opcode) -> None:
        if len(self.metastack) >= self.limits.max_marks:
            self._limit(self.pos, f"more than {self.limits.max_marks} nested MARKs")
        self.metastack.append(self.stack)
        self.stack = []

    def op_POP(self, arg: object, op: Opcode) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def op_POP_MARK(self, arg: object, op: Opcode) -> None:
        self.pop_mark()

    def op_DUP(self, arg: object, op: Opcode) -> None:
        self.push(self.stack[-1])

    # ------------------------------------------------------------------ memo
    def _get(self, idx: object) -> None:
        v = self.memo.get(idx)  # type: ignore[call-overload]
        if v is None:
            self._fail(
                self.pos,
                f"memo key {idx} read at offset {self.pos} was never stored",
                f"KeyError: {idx}",
            )
        self.push(v)  # type: ignore[arg-type]

    def op_BINGET(self, arg: object, op: Opcode) -> None:
        self._get(arg)

    op_LONG_BINGET = op_BINGET

    def op_GET(self, arg: object, op: Opcode) -> None:
        self._get(arg)

    def _put(self, idx: int) -> None:
        if idx < 0:
            self._fail(self.pos, f"negative memo index {idx}")
        if idx >= self._memo_capacity:
            self._grow_c_memo(idx)
        if idx not in self.memo and len(self.memo) >= self.limits.max_memo:  # type: ignore[operator]
            self._limit(self.pos, f"more than {self.limits.max_memo} memo entries")
        self.memo[idx] = self.top()  # type: ignore[index]

    def _grow_c_memo(self, idx: int) -> None:
        """The C unpickler keeps its memo in an array and grows it to twice the index it
        is asked to store (``_Unpickler_ResizeMemoList``, 8 bytes a slot): a five-byte
        LONG_BINPUT of 2**32-1 makes pickle.load and torch.load(weights_only=False)
        zero 64 GiB. torch's weights-only unpickler (a dict) does not: a RESOURCE issue."""
        before = self._memo_capacity * 8
        self._memo_capacity = 2 * idx + 2
        nbytes = self._memo_capacity * 8
        if budgets.disproportionate(nbytes) and not budgets.disproportionate(before):
            self.issue(
                IssueKind.RESOURCE,
                f"memo index {idx} at offset {self.pos} makes pickle.load's C unpickler "
                f"allocate a memo of {budgets.human(nbytes)}: a denial of service on "
                "pickle.load and torch.load(weights_only=False)",
            )

    def op_BINPUT(self, arg: object, op: Opcode) -> None:
        self._put(arg)  # type: ignore[arg-type]

    op_LONG_BINPUT = op_PUT = op_BINPUT

    def op_MEMOIZE(self, arg: object, op: Opcode) -> None:
        self._put(len(self.memo))


@functools.cache
def _handler_table() -> list[Callable[[Machine, object, Opcode], None] | None]:
    """The effect function of each opcode byte (None for bytes that are no opcode)."""
    return [getattr(Machine, "op_" + op.name) if op is not None else None for op in BY_CODE]


def run_stream(
    buf: bytes,
    entry: str,
    naming: Naming,
    persistent_load: PersistentLoader | None = None,
    start: int = 0,
    limits: Limits | None = None,
    knowledge: models.Knowledge | None = None,
    after_build: AfterBuild | None = None,
    splice: FramePolicy | None = None,
) -> StreamTrace:
    """Read one pickle stream from ``buf`` starting at ``start`` (``splice``: see Machine)."""
    return Machine(
        buf, entry, naming, persistent_load, limits, start, knowledge, after_build, splice
    ).run()
