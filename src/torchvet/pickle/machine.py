"""The symbolic pickle machine.

It reads every opcode of protocols 0-5 and keeps a symbolic value (``values.py``) in
every stack and memo slot, exactly where a real unpickler keeps objects, but it never
imports a module and never calls anything: a global is a name, a call is a record.
What a known callable returns (a tensor, an OrderedDict, a numpy dtype whose runtime
type BUILD will check) comes from ``models.py``.

Dispatch is table-driven: ``_HANDLERS`` maps each opcode name from the pickletools
table to one small effect method. Every read is bounded by the bytes present, and
the machine stops with a LIMIT issue when a pickle exceeds the op, stack, memo or
nesting bounds, so a hostile stream costs bounded time and memory.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from torchvet import budget as budgets
from torchvet.pickle import models
from torchvet.pickle.accounting import _MAX_MESSAGE, _SIZED_ARGS, Accounting, Limits, _Stop
from torchvet.pickle.hashwork import HashWork
from torchvet.pickle.opcodes import BY_CODE, Opcode
from torchvet.pickle.readers import READERS, DecodeError, RawString
from torchvet.pickle.trace import CallEvent, GlobalRef, Issue, IssueKind, StreamTrace, TypeUse
from torchvet.pickle.values import (
    Attr,
    Call,
    Const,
    Dct,
    Glob,
    Lst,
    Obj,
    Opaque,
    SetV,
    Tup,
    Value,
)

# Runtime types torch's BUILD handles itself, whatever the allowlist says.
_BUILD_SPECIAL = frozenset(
    {"torch.Tensor", "torch.nn.parameter.Parameter", "collections.OrderedDict"}
)
# Exact types torch accepts as SETITEM(S) / APPEND(S) targets.
_SETITEM_TYPES = frozenset({"builtins.dict", "collections.OrderedDict", "collections.Counter"})


PersistentLoader = Callable[[Value, int], Value]
# Called after BUILD with (machine, instance, state); returns how many bytes to skip
# before the next opcode (joblib reads array data inline), or -1 to stop reading.
AfterBuild = Callable[["Machine", Value, Value], int]


@dataclass
class Naming:
    """How GLOBAL names are mapped before lookup (torch._utils NAME/IMPORT_MAPPING)."""

    name_mapping: dict[tuple[str, str], tuple[str, str]]
    import_mapping: dict[str, str]

    def map(self, module: str, name: str) -> tuple[str, str]:
        mapped = self.name_mapping.get((module, name))
        if mapped is not None:
            return mapped
        return self.import_mapping.get(module, module), name


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
    ) -> None:
        self.buf = buf
        self.after_build = after_build
        self.naming = naming
        self.persistent_load = persistent_load
        self.limits = limits or Limits()
        self.knowledge = knowledge or models.Knowledge()
        self.trace = StreamTrace(entry=entry, start=start, end=start)
        self.stack: list[Value] = []
        self.metastack: list[list[Value]] = []
        self.memo: dict[int, Value] = {}
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
                        torch_message=f"Unsupported operand {code}",
                    )
                trace.ops += 1
                if trace.ops > self.op_limit:
                    self._over_budget(p)
                if not op.torch_ok:
                    self.issue(
                        IssueKind.OPCODE,
                        f"opcode {op.name} (protocol {op.proto}) is not supported by torch's "
                        "weights-only unpickler",
                        torch_message=f"Unsupported operand {code}",
                    )
                arg = None
                q = p + 1
                if op.arg is not None:
                    if n - p > max_value and op.arg in _SIZED_ARGS:
                        self._check_value_size(op, p)
                    try:
                        arg, q = READERS[op.arg](buf, q)
                    except DecodeError as exc:
                        self._fail(p, f"{op.name} at offset {p}: {exc}")
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
        self.sync_budget()
        self._summarise_dropped()
        trace.end = p if not trace.stopped else self.next_pos
        return trace

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

    def _fail(self, pos: int, message: str, torch_message: str | None = None) -> None:
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
            self.issue(
                IssueKind.NOTE, f"pickle protocol {arg} is newer than Python's pickle supports"
            )

    def op_FRAME(self, arg: object, op: Opcode) -> None:
        if arg > len(self.buf) - self.next_pos:  # type: ignore[operator]
            self._fail(
                self.pos,
                f"FRAME of {arg} bytes exceeds the {len(self.buf) - self.next_pos} bytes left",
            )

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
        self.push(Obj(self.pos, "builtins.bytearray", hashable=False, info=bytes(arg)))  # type: ignore[arg-type]

    def op_NEXT_BUFFER(self, arg: object, op: Opcode) -> None:
        self._fail(self.pos, "NEXT_BUFFER refers to out-of-band data the file does not contain")

    def op_READONLY_BUFFER(self, arg: object, op: Opcode) -> None:
        self.top()

    # ------------------------------------------------------------------ containers
    def op_EMPTY_TUPLE(self, arg: object, op: Opcode) -> None:
        self.push(Tup(self.pos, ()))

    def op_TUPLE(self, arg: object, op: Opcode) -> None:
        self.push(Tup(self.pos, tuple(self.pop_mark())))

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
        self.push(Tup(self.pos, items))

    def op_EMPTY_LIST(self, arg: object, op: Opcode) -> None:
        self.push(Lst(self.pos))

    def op_LIST(self, arg: object, op: Opcode) -> None:
        self.push(Lst(self.pos, self.pop_mark()))

    def op_EMPTY_DICT(self, arg: object, op: Opcode) -> None:
        self.push(Dct(self.pos))

    def op_DICT(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        d = Dct(self.pos)
        self._fill_dict(d, items)
        self.push(d)

    def op_EMPTY_SET(self, arg: object, op: Opcode) -> None:
        self.push(SetV(self.pos))

    def op_FROZENSET(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._check_hashable(items, "FROZENSET")
        s = SetV(self.pos, items, frozen=True)
        self.hashes.insert(self, s, items)
        self.push(s)

    def op_ADDITEMS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, SetV):
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
        if isinstance(target, Lst):
            target.items.extend(items)
            return
        kind = target.pytype
        self.issue(
            IssueKind.STRUCTURE,
            f"{opname} at offset {self.pos} targets {target.describe()}; torch only appends to "
            "exact lists",
            torch_message=f"Can only {verb} lists, but got <class '{kind or 'object'}'>",
        )

    def op_SETITEM(self, arg: object, op: Opcode) -> None:
        value = self.pop()
        key = self.pop()
        self._setitems(self.top(), [key, value], "SETITEM")

    def op_SETITEMS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._setitems(self.top(), items, "SETITEMS")

    def _setitems(self, target: Value, items: list[Value], opname: str) -> None:
        if target.pytype not in _SETITEM_TYPES:
            self.issue(
                IssueKind.STRUCTURE,
                f"{opname} at offset {self.pos} targets {target.describe()}; torch only sets items "
                "on exact dict, OrderedDict and Counter",
                torch_message=(
                    f"Can only {opname} for dict, collections.OrderedDict, collections.Counter, "
                    f"but got <class '{target.pytype or 'object'}'>"
                ),
            )
        if isinstance(target, Dct):
            self._fill_dict(target, items)

    def _fill_dict(self, d: Dct, items: list[Value]) -> None:
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

    def _put(self, idx: object) -> None:
        if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
            self._fail(self.pos, f"invalid memo index {idx!r}")
        if idx not in self.memo and len(self.memo) >= self.limits.max_memo:  # type: ignore[operator]
            self._limit(self.pos, f"more than {self.limits.max_memo} memo entries")
        self.memo[idx] = self.top()  # type: ignore[index]

    def op_BINPUT(self, arg: object, op: Opcode) -> None:
        self._put(arg)

    op_LONG_BINPUT = op_BINPUT

    def op_PUT(self, arg: object, op: Opcode) -> None:
        try:
            idx = int(arg)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            self._fail(self.pos, f"invalid PUT index {arg!r}")
        self._put(idx)

    def op_MEMOIZE(self, arg: object, op: Opcode) -> None:
        self._put(len(self.memo))

    # ------------------------------------------------------------------ globals and calls
    def _global(self, module: str, name: str, opname: str) -> Glob:
        mapped_module, mapped_name = self.naming.map(module, name)
        # The policy judges a name once; a file repeating it must not cost an event each.
        key = (module, name, opname)
        if key not in self._seen_globals:
            self._seen_globals.add(key)
            self.trace.events.append(
                GlobalRef(self.pos, mapped_module, mapped_name, opname, (module, name))
            )
        return Glob(self.pos, mapped_module, mapped_name, (module, name))

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
        if not isinstance(func, (Glob, Attr)):
            self.issue(
                IssueKind.STRUCTURE,
                f"REDUCE at offset {self.pos} calls {func.describe()}, which is not a global",
                torch_message=f"Trying to call reduce for unrecognized function {func.describe()}",
            )
        self.push(self.call("REDUCE", func, self._unpack_args(args, "REDUCE")))

    def op_NEWOBJ(self, arg: object, op: Opcode) -> None:
        args = self.pop()
        cls = self.pop()
        if not isinstance(cls, Glob):
            self.issue(
                IssueKind.STRUCTURE,
                f"NEWOBJ at offset {self.pos} instantiates {cls.describe()}, which is not a global",
                torch_message=(
                    "Can only create new object for nn.Parameter or classes allowlisted via "
                    f"`add_safe_globals` but got {cls.describe()}"
                ),
            )
        self.push(self.call("NEWOBJ", cls, self._unpack_args(args, "NEWOBJ")))

    def op_NEWOBJ_EX(self, arg: object, op: Opcode) -> None:
        kwargs = self.pop()
        args = self.pop()
        cls = self.pop()
        self.push(self.call("NEWOBJ_EX", cls, self._unpack_args(args, "NEWOBJ_EX"), kwargs))

    def op_INST(self, arg: object, op: Opcode) -> None:
        module, name = arg  # type: ignore[misc]
        args = tuple(self.pop_mark())
        cls = self._global(module, name, "INST")
        self.push(self.call("INST", cls, args))

    def op_OBJ(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        if not items:
            self._fail(self.pos, f"OBJ at offset {self.pos} has no class", "IndexError")
        self.push(self.call("OBJ", items[0], tuple(items[1:])))

    def _unpack_args(self, args: Value, opname: str) -> tuple[Value, ...] | None:
        if isinstance(args, Lst):
            self.charge(len(args.items) >> 3)  # copied for every call that passes it
        if isinstance(args, (Tup, Lst)):
            return tuple(args.items)
        return None  # arguments that cannot be enumerated statically

    def call(
        self, opname: str, func: Value, args: tuple[Value, ...] | None, kwargs: Value | None = None
    ) -> Value:
        target = models.target_name(func)
        if target is not None and len(target) > 256:
            self.charge(len(target) >> 6)  # the policy reads the name of every call
        c = Call(self.pos, opname, func, args if args is not None else (), kwargs, target)
        self.trace.events.append(CallEvent(c))
        if target is None and not isinstance(func, Glob):
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
            return Obj(self.pos, None, c)
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
        if t in _BUILD_SPECIAL or t in self._seen_types:
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
            self.issue(
                IssueKind.INVALID,
                f"persistent id at offset {self.pos} outside a container that defines them",
                torch_message="unsupported persistent id encountered",
            )
            self.push(Opaque(self.pos, "persistent id"))
            return
        self.push(self.persistent_load(pid, self.pos))


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
) -> StreamTrace:
    """Read one pickle stream from ``buf`` starting at ``start``."""
    return Machine(buf, entry, naming, persistent_load, limits, start, knowledge, after_build).run()
