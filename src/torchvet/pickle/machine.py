"""The symbolic pickle machine.

It reads every opcode of protocols 0-5 and keeps a symbolic value (``values.py``) in
every stack and memo slot, exactly where a real unpickler keeps objects, but it never
imports a module and never calls anything: a global is a name, a call is a record.
What a known callable returns (a tensor, an OrderedDict, a numpy dtype whose runtime
type BUILD will check) comes from ``models.py``.

Dispatch is table-driven: ``_handler_table()`` maps each opcode byte of the pickletools
table to one small effect method. Every read is bounded by the bytes present, and
the machine stops with a LIMIT issue when a pickle exceeds the op, stack, memo or
nesting bounds, so a hostile stream costs bounded time and memory.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import NoReturn

from torchvet import budget as budgets
from torchvet.pickle import models
from torchvet.pickle.accounting import _MAX_MESSAGE, _SIZED_ARGS, Accounting, Limits, _Stop
from torchvet.pickle.frames import FramePolicy, Frames
from torchvet.pickle.hashwork import HashWork
from torchvet.pickle.naming import Naming, pickle_reading
from torchvet.pickle.opcodes import BY_CODE, Opcode
from torchvet.pickle.readers import DecodeError, PartialGlobal, RawString
from torchvet.pickle.trace import CallEvent, GlobalRef, Issue, IssueKind, StreamTrace, TypeUse
from torchvet.pickle.values import (
    Attr,
    Call,
    Const,
    DictValue,
    GlobalName,
    Instance,
    ListValue,
    Opaque,
    SetValue,
    Storage,
    TupleValue,
    Value,
)

PersistentLoader = Callable[[Value, int], Value]
# Called after BUILD with (machine, instance, state); returns how many bytes to skip
# before the next opcode (joblib reads array data inline), or -1 to stop reading.
AfterBuild = Callable[["Machine", Value, Value], int]


class Machine(Accounting):
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
        self.allocated = 0  # bytes the stream's calls make the loader allocate (models.py)

    # ------------------------------------------------------------------ driver
    def run(self) -> StreamTrace:
        buf = self.buf
        n = len(buf)
        p = self.trace.start
        limits = self.limits
        trace = self.trace
        handlers = _handler_table()  # built once: a zip of 10k pickles runs 10k machines
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

    def pop(self) -> Value:
        if not self.stack:
            self._fail(self.pos, f"stack underflow at offset {self.pos}", "IndexError")
        return self.stack.pop()

    def top(self) -> Value:
        if not self.stack:
            self._fail(self.pos, f"stack underflow at offset {self.pos}", "IndexError")
        return self.stack[-1]

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
        self.trace.root = self.pop()

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
        self.push(self.top())

    # ------------------------------------------------------------------ constants
    def _push_const(self, arg: object, op: Opcode) -> None:
        self.push(self.const(arg))

    op_INT = op_BININT = op_BININT1 = op_BININT2 = op_LONG = op_LONG1 = op_LONG4 = _push_const
    op_FLOAT = op_BINFLOAT = _push_const
    op_UNICODE = op_SHORT_BINUNICODE = op_BINUNICODE = op_BINUNICODE8 = _push_const
    op_BINBYTES = op_SHORT_BINBYTES = op_BINBYTES8 = _push_const

    def op_NONE(self, arg: object, op: Opcode) -> None:
        self.push(self.const(None))

    def op_NEWTRUE(self, arg: object, op: Opcode) -> None:
        self.push(self.const(True))

    def op_NEWFALSE(self, arg: object, op: Opcode) -> None:
        self.push(self.const(False))

    def _push_string(self, arg: object, op: Opcode) -> None:
        # Protocol 0-2 byte strings: torch.load decodes them as UTF-8 (strictly).
        assert isinstance(arg, RawString)
        try:
            self.push(self.const(bytes(arg).decode("utf-8")))
        except UnicodeDecodeError:
            self.issue(
                IssueKind.INVALID,
                f"{op.name} at offset {self.pos} is not valid UTF-8, which torch.load requires",
                torch_message="UnicodeDecodeError: 'utf-8' codec can't decode",
            )
            self.push(self.const(bytes(arg)))

    op_STRING = op_BINSTRING = op_SHORT_BINSTRING = _push_string

    def op_BYTEARRAY8(self, arg: object, op: Opcode) -> None:
        self.push(Instance(self.pos, "builtins.bytearray", hashable=False, info=bytes(arg)))  # type: ignore[arg-type]

    def op_NEXT_BUFFER(self, arg: object, op: Opcode) -> None:
        # Fails unless the loader passes buffers=...; one that does reads on.
        self.issue(
            IssueKind.NOTE,
            f"NEXT_BUFFER at offset {self.pos} takes out-of-band data the file does not "
            "contain: only a loader that passes buffers= reads on",
        )
        self.push(Opaque(self.pos, "out-of-band buffer"))

    def op_READONLY_BUFFER(self, arg: object, op: Opcode) -> None:
        self.top()

    # ------------------------------------------------------------------ containers
    def op_EMPTY_TUPLE(self, arg: object, op: Opcode) -> None:
        self.push(TupleValue(self.pos, ()))

    def op_TUPLE(self, arg: object, op: Opcode) -> None:
        self.push(TupleValue(self.pos, tuple(self.pop_mark())))

    def op_TUPLE1(self, arg: object, op: Opcode) -> None:
        self._tuple_n(1)

    def op_TUPLE2(self, arg: object, op: Opcode) -> None:
        self._tuple_n(2)

    def op_TUPLE3(self, arg: object, op: Opcode) -> None:
        self._tuple_n(3)

    def _tuple_n(self, n: int) -> None:
        if len(self.stack) < n:
            self._fail(self.pos, f"stack underflow at offset {self.pos}", "IndexError")
        items = tuple(self.stack[-n:])
        del self.stack[-n:]
        self.push(TupleValue(self.pos, items))

    def op_EMPTY_LIST(self, arg: object, op: Opcode) -> None:
        self.push(ListValue(self.pos))

    def op_LIST(self, arg: object, op: Opcode) -> None:
        self.push(ListValue(self.pos, self.pop_mark()))

    def op_EMPTY_DICT(self, arg: object, op: Opcode) -> None:
        self.push(DictValue(self.pos))

    def op_DICT(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        d = DictValue(self.pos)
        self._fill_dict(d, items)
        self.push(d)

    def op_EMPTY_SET(self, arg: object, op: Opcode) -> None:
        self.push(SetValue(self.pos))

    def op_FROZENSET(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._check_hashable(items, "FROZENSET")
        s = SetValue(self.pos, items, frozen=True)
        self.hashes.insert(self, s, items)
        self.push(s)

    def op_ADDITEMS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, SetValue):
            self._check_hashable(items, "ADDITEMS")
            self.hashes.insert(self, target, items)
            target.items.extend(items)

    def op_APPEND(self, arg: object, op: Opcode) -> None:
        item = self.pop()
        self._append(self.top(), [item], "append to", "APPEND")

    def op_APPENDS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._append(self.top(), items, "extend", "APPENDS")

    def _append(self, target: Value, items: list[Value], verb: str, opname: str) -> None:
        if target.pytype in self.facts.append_types:
            if isinstance(target, ListValue):
                target.items.extend(items)
            return
        kind = target.pytype
        self.issue(
            IssueKind.STRUCTURE,
            f"{opname} at offset {self.pos} targets {target.describe()}; torch only appends to "
            "exact lists",
            torch_message=self.facts.message(opname, type=f"<class '{kind or 'object'}'>"),
        )

    def op_SETITEM(self, arg: object, op: Opcode) -> None:
        value = self.pop()
        key = self.pop()
        self._setitems(self.top(), [key, value], "SETITEM")

    def op_SETITEMS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._setitems(self.top(), items, "SETITEMS")

    def _setitems(self, target: Value, items: list[Value], opname: str) -> None:
        if target.pytype not in self.facts.setitem_types:
            self.issue(
                IssueKind.STRUCTURE,
                f"{opname} at offset {self.pos} targets {target.describe()}; torch only sets items "
                "on exact dict, OrderedDict and Counter",
                torch_message=self.facts.message(
                    "SETITEM", opcode=opname, type=f"<class '{target.pytype or 'object'}'>"
                ),
            )
        if isinstance(target, DictValue):
            self._fill_dict(target, items)

    def _fill_dict(self, d: DictValue, items: list[Value]) -> None:
        if len(items) % 2:
            # pickle.py drops nothing silently: an odd count means a missing value.
            self.issue(
                IssueKind.INVALID,
                f"odd number of items for a dict at offset {self.pos}",
                torch_message="IndexError: list index out of range",
            )
            items = items[:-1]
        keys = items[0::2]
        self._check_hashable(keys, "dict key")
        self.hashes.insert(self, d, keys)
        d.items.extend(zip(keys, items[1::2], strict=True))

    def _check_hashable(self, items: list[Value], what: str) -> None:
        for item in items:
            if item.hashable is False:
                self.issue(
                    IssueKind.INVALID,
                    f"unhashable {item.describe()} used as a {what} at offset {self.pos}",
                    torch_message=f"TypeError: unhashable type: '{(item.pytype or 'object').rsplit('.', 1)[-1]}'",
                )
            elif item.hashable is None:
                self.issue(
                    IssueKind.UNVERIFIED,
                    f"{item.describe()} used as a {what} at offset {self.pos}; torchvet cannot tell "
                    "whether it is hashable",
                )

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

    # ------------------------------------------------------------------ globals and calls
    def _global(self, module: str, name: str, opname: str) -> GlobalName:
        raw = (module, name)
        mapped_module, mapped_name = self.naming.map(module, name)
        # The policy judges a name once; a file repeating it must not cost an event each.
        key = (module, name, opname)
        if key not in self._seen_globals:
            self._seen_globals.add(key)
            events = self.trace.events
            events.append(GlobalRef(self.pos, mapped_module, mapped_name, opname, raw))
            # Where pickle's own mapping differs, pickle.load resolves another name.
            other = pickle_reading(module, name, self.proto)
            if other != (mapped_module, mapped_name) and other != raw:
                events.append(GlobalRef(self.pos, *other, opname, raw))
        return GlobalName(self.pos, mapped_module, mapped_name, raw)

    def op_GLOBAL(self, arg: object, op: Opcode) -> None:
        module, name = arg  # type: ignore[misc]
        self.push(self._global(module, name, "GLOBAL"))

    def op_STACK_GLOBAL(self, arg: object, op: Opcode) -> None:
        name = self.pop()
        module = self.pop()
        if (
            isinstance(module, Const)
            and isinstance(name, Const)
            and type(module.value) is str
            and type(name.value) is str
        ):
            self.push(self._global(module.value, name.value, "STACK_GLOBAL"))
            return
        if _not_exactly_str(module) or _not_exactly_str(name):
            # Values whose type is known and is not exactly str: every unpickler stops.
            self._fail(
                self.pos,
                f"STACK_GLOBAL at offset {self.pos} requires str",
                "STACK_GLOBAL requires str",
            )
        self.issue(
            IssueKind.DYNAMIC,
            f"STACK_GLOBAL at offset {self.pos} imports a name computed at load time "
            f"({module.describe()}, {name.describe()})",
        )
        self.push(Opaque(self.pos, "dynamic global"))

    def op_EXT1(self, arg: object, op: Opcode) -> None:
        self.issue(
            IssueKind.DYNAMIC,
            f"{op.name} at offset {self.pos} names extension code {arg}: it resolves to whatever "
            "the loading process registered with copyreg.add_extension",
        )
        self.push(Opaque(self.pos, "extension code"))

    op_EXT2 = op_EXT4 = op_EXT1

    def op_REDUCE(self, arg: object, op: Opcode) -> None:
        args = self.pop()
        func = self.pop()
        # An attribute (getattr result) can only exist after a call of a global torch
        # refuses; the call itself is judged by where it leads, so say nothing more here.
        if not isinstance(func, (GlobalName, Attr)):
            self.issue(
                IssueKind.STRUCTURE,
                f"REDUCE at offset {self.pos} calls {func.describe()}, which is not a global",
                torch_message=self.facts.message("REDUCE", value=func.describe()),
            )
        self.push(self.call("REDUCE", func, self._unpack_args(args, "REDUCE")))

    def op_NEWOBJ(self, arg: object, op: Opcode) -> None:
        args = self.pop()
        cls = self.pop()
        if not isinstance(cls, GlobalName):
            self.issue(
                IssueKind.STRUCTURE,
                f"NEWOBJ at offset {self.pos} instantiates {cls.describe()}, which is not a global",
                torch_message=self.facts.message("NEWOBJ", value=cls.describe()),
            )
        self.push(self.call("NEWOBJ", cls, self._unpack_args(args, "NEWOBJ")))

    def op_NEWOBJ_EX(self, arg: object, op: Opcode) -> None:
        kwargs = self.pop()
        args = self.pop()
        cls = self.pop()
        self.push(self.call("NEWOBJ_EX", cls, self._unpack_args(args, "NEWOBJ_EX"), kwargs))

    def op_INST(self, arg: object, op: Opcode) -> None:
        module, name = arg  # type: ignore[misc]
        cls = self._global(module, name, "INST")  # pickle.py imports it before the MARK
        args = tuple(self.pop_mark())
        self.push(self.call("INST", cls, args))

    def op_OBJ(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        if not items:
            self._fail(self.pos, f"OBJ at offset {self.pos} has no class", "IndexError")
        self.push(self.call("OBJ", items[0], tuple(items[1:])))

    def _unpack_args(self, args: Value, opname: str) -> tuple[Value, ...] | None:
        if isinstance(args, ListValue):
            self.charge(len(args.items) >> 3)  # copied for every call that passes it
        if isinstance(args, (TupleValue, ListValue)):
            return tuple(args.items)
        return None  # arguments that cannot be enumerated statically

    def call(
        self, opname: str, func: Value, args: tuple[Value, ...] | None, kwargs: Value | None = None
    ) -> Value:
        if isinstance(func, (Const, TupleValue, ListValue, DictValue, SetValue, Storage)):
            # A value of a known type that is not callable: every unpickler stops here.
            self._fail(
                self.pos,
                f"{opname} at offset {self.pos} calls {func.describe()}, which is not callable",
                f"TypeError: {func.describe()} is not callable",
            )
        target = models.target_name(func)
        if target is not None and len(target) > 256:
            self.charge(len(target) >> 6)  # the policy reads the name of every call
        c = Call(self.pos, opname, func, args if args is not None else (), kwargs, target)
        self.trace.events.append(CallEvent(c))
        if target is None and not isinstance(func, GlobalName):
            self.issue(
                IssueKind.DYNAMIC,
                f"{opname} at offset {self.pos} calls {func.describe()}, a callable obtained at "
                "load time that torchvet cannot resolve",
            )
        if args is None:
            self.issue(
                IssueKind.UNVERIFIED,
                f"{opname} at offset {self.pos} passes arguments that are not a tuple",
            )
            return Instance(self.pos, None, c)
        return self.knowledge.apply(self, c)

    def op_BUILD(self, arg: object, op: Opcode) -> None:
        state = self.pop()
        inst = self.top()
        self.knowledge.build(self, inst, state)
        if self.after_build is not None:
            self.sync_budget()  # the hook may run nested streams on the same budget
            skip = self.after_build(self, inst, state)
            self.sync_budget()
            if skip < 0:
                raise _Stop
            self.next_pos += skip

    def note_build_type(self, inst: Value) -> None:
        """Record the runtime type BUILD acts on, for the policy to check."""
        t = inst.pytype
        if t is None:
            return
        if t in self.facts.build_types or t in self._seen_types:
            return
        self._seen_types.add(t)
        self.trace.events.append(TypeUse(self.pos, t, "build"))

    # ------------------------------------------------------------------ persistent ids
    def op_PERSID(self, arg: object, op: Opcode) -> None:
        self._persistent(self.const(arg))

    def op_BINPERSID(self, arg: object, op: Opcode) -> None:
        self._persistent(self.pop())

    def _persistent(self, pid: Value) -> None:
        if self.persistent_load is None:
            # pickle, pickle._Unpickler and torch all raise here without a persistent_load.
            self._fail(
                self.pos,
                f"persistent id at offset {self.pos} outside a container that defines them",
                self.facts.message("persistent_load"),
            )
        self.push(self.persistent_load(pid, self.pos))


def _not_exactly_str(v: Value) -> bool:
    """Whether ``v`` is certainly not of type ``str`` exactly (STACK_GLOBAL's check).

    An instance NEWOBJ made is of its class (a class whose ``__new__`` returns something
    else is itself an unknown global, already reported)."""
    if isinstance(v, Const):
        return type(v.value) is not str
    if isinstance(v, Instance):
        made_by_new = v.call is not None and v.call.opcode in ("NEWOBJ", "NEWOBJ_EX")
        return made_by_new and v.pytype not in (None, "builtins.str")
    return isinstance(v, (TupleValue, ListValue, DictValue, SetValue, GlobalName, Storage))


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
