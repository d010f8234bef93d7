"""The machine's effects for opcodes that name globals and call them: GLOBAL,
STACK_GLOBAL, EXT1/2/4, REDUCE, NEWOBJ(_EX), INST, OBJ, BUILD and persistent ids.

A global stays a name and a call stays a record; what a known callable returns comes
from ``models``. Mixed into ``Machine`` (``machine.py``), which looks each effect up by
opcode name (``op_<NAME>``) and has already checked the stack (see ``valueops.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from torchvet.pickle import models, values
from torchvet.pickle.naming import Naming, pickle_reading
from torchvet.pickle.trace import CallEvent, GlobalRef, IssueKind, StreamTrace, TypeUse
from torchvet.pickle.values import Call, Value

if TYPE_CHECKING:
    from torchvet.pickle.opcodes import Opcode

PersistentLoader = Callable[[Value, int], Value]


class CallOps:
    """Mixed into ``Machine``: the effects of the opcodes that name and call globals."""

    pos: int
    proto: int
    next_pos: int
    stack: list[Value]
    trace: StreamTrace
    naming: Naming
    knowledge: models.Knowledge
    effects: models.Effects
    persistent_load: PersistentLoader | None
    _seen_globals: set[tuple[str, str, str]]
    _seen_types: set[str]

    if TYPE_CHECKING:  # the machine's own (machine.py, accounting.py)

        def push(self, v: Value) -> None: ...
        def pop_mark(self) -> list[Value]: ...
        def const(self, value: object) -> values.Const: ...
        def charge(self, units: int) -> None: ...
        def issue(
            self, kind: IssueKind, message: str, torch_message: str | None = None
        ) -> None: ...
        def _fail(self, pos: int, message: str, torch_message: str | None = None) -> NoReturn: ...
        def _after_build(self, inst: Value, state: Value) -> None: ...

    # ------------------------------------------------------------------ globals
    def _global(self, module: str, name: str, opname: str) -> values.GlobalName:
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
        return values.GlobalName(self.pos, mapped_module, mapped_name, raw)

    def op_GLOBAL(self, arg: object, op: Opcode) -> None:
        module, name = arg  # type: ignore[misc]
        self.push(self._global(module, name, "GLOBAL"))

    def op_STACK_GLOBAL(self, arg: object, op: Opcode) -> None:
        name = self.stack.pop()
        module = self.stack.pop()
        if (
            isinstance(module, values.Const)
            and isinstance(name, values.Const)
            and type(module.value) is str
            and type(name.value) is str
        ):
            self.push(self._global(module.value, name.value, "STACK_GLOBAL"))
            return
        if values.surely_not_str(module) or values.surely_not_str(name):
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
        self.push(values.Opaque(self.pos, "dynamic global"))

    def op_EXT1(self, arg: object, op: Opcode) -> None:
        self.issue(
            IssueKind.DYNAMIC,
            f"{op.name} at offset {self.pos} names extension code {arg}: it resolves to whatever "
            "the loading process registered with copyreg.add_extension",
        )
        self.push(values.Opaque(self.pos, "extension code"))

    op_EXT2 = op_EXT4 = op_EXT1

    # ------------------------------------------------------------------ calls
    def op_REDUCE(self, arg: object, op: Opcode) -> None:
        args = self.stack.pop()
        func = self.stack.pop()
        # An attribute (getattr result) can only exist after a call of a global torch
        # refuses; the call itself is judged by where it leads, so say nothing more here.
        if not isinstance(func, (values.GlobalName, values.Attr)):
            self.issue(
                IssueKind.STRUCTURE,
                f"REDUCE at offset {self.pos} calls {func.describe()}, which is not a global",
                torch_message=self.facts.message("REDUCE", value=values.python_str(func)),
            )
        self.push(self.call("REDUCE", func, self._unpack_args(args)))

    def op_NEWOBJ(self, arg: object, op: Opcode) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        if not isinstance(cls, values.GlobalName):
            self.issue(
                IssueKind.STRUCTURE,
                f"NEWOBJ at offset {self.pos} instantiates {cls.describe()}, which is not a global",
                torch_message=self.facts.message("NEWOBJ", value=values.python_str(cls)),
            )
        self.push(self.call("NEWOBJ", cls, self._unpack_args(args)))

    def op_NEWOBJ_EX(self, arg: object, op: Opcode) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        self.push(self.call("NEWOBJ_EX", cls, self._unpack_args(args), kwargs))

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

    def _unpack_args(self, args: Value) -> tuple[Value, ...] | None:
        if isinstance(args, values.ListValue):
            self.charge(len(args.items) >> 3)  # copied for every call that passes it
        if isinstance(args, (values.TupleValue, values.ListValue)):
            return tuple(args.items)
        return None  # arguments that cannot be enumerated statically

    def call(
        self,
        opname: str,
        func: Value,
        args: tuple[Value, ...] | None,
        kwargs: Value | None = None,
    ) -> Value:
        if isinstance(func, values.UNCALLABLE):
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
        if target is None and not isinstance(func, values.GlobalName):
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
            return values.Instance(self.pos, None, c)
        return self.knowledge.apply(self.effects, c)

    # ------------------------------------------------------------------ BUILD
    def op_BUILD(self, arg: object, op: Opcode) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        self.knowledge.build(self.effects, inst, state)
        self._after_build(inst, state)

    def note_build_type(self, inst: Value) -> None:
        """Record the runtime type BUILD acts on, for the policy to check."""
        t = inst.pytype
        if t is None:
            return
        # The types torch's BUILD handles itself are a fact of each torch release.
        if t in self.facts.build_types or t in self._seen_types:
            return
        self._seen_types.add(t)
        self.trace.events.append(TypeUse(self.pos, t, "build"))

    # ------------------------------------------------------------------ persistent ids
    def op_PERSID(self, arg: object, op: Opcode) -> None:
        self._persistent(self.const(arg))

    def op_BINPERSID(self, arg: object, op: Opcode) -> None:
        self._persistent(self.stack.pop())

    def _persistent(self, pid: Value) -> None:
        if self.persistent_load is None:
            # pickle, pickle._Unpickler and torch all raise here without a persistent_load.
            self._fail(
                self.pos,
                f"persistent id at offset {self.pos} outside a container that defines them",
                self.facts.message("persistent_load"),
            )
        self.push(self.persistent_load(pid, self.pos))
