"""The machine's effects for opcodes that make values: constants, strings, buffers,
tuples, lists, dicts and sets, and APPEND(S) / SETITEM(S) / ADDITEMS into them.

Mixed into ``Machine`` (``machine.py``), which looks each effect up by opcode name
(``op_<NAME>``) and has already checked that the stack holds what pickletools says the
opcode takes (MARK-taking opcodes check their MARK in ``pop_mark``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchvet.pickle.readers import RawString
from torchvet.pickle.torchfacts import class_repr
from torchvet.pickle.trace import IssueKind
from torchvet.pickle.values import (
    Const,
    DictValue,
    Instance,
    ListValue,
    Opaque,
    SetValue,
    TupleValue,
    Value,
)

if TYPE_CHECKING:
    from torchvet.pickle.models import Effects
    from torchvet.pickle.opcodes import Opcode


class ValueOps:
    """Mixed into ``Machine``: the effects of the opcodes that make values."""

    pos: int
    stack: list[Value]
    effects: Effects

    if TYPE_CHECKING:  # the machine's own (machine.py)

        def push(self, v: Value) -> None: ...
        def top(self) -> Value: ...
        def pop_mark(self) -> list[Value]: ...
        def const(self, value: object) -> Const: ...
        def issue(
            self, kind: IssueKind, message: str, torch_message: str | None = None
        ) -> None: ...

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
        """Makes the buffer on the stack read-only: nothing to model."""

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
        self.effects.insert_keys(s, items)
        self.push(s)

    def op_ADDITEMS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        target = self.top()
        if isinstance(target, SetValue):
            self._check_hashable(items, "ADDITEMS")
            self.effects.insert_keys(target, items)
            target.items.extend(items)

    def op_APPEND(self, arg: object, op: Opcode) -> None:
        item = self.stack.pop()
        self._append(self.stack[-1], [item], "append to", "APPEND")

    def op_APPENDS(self, arg: object, op: Opcode) -> None:
        items = self.pop_mark()
        self._append(self.top(), items, "extend", "APPENDS")

    def _append(self, target: Value, items: list[Value], verb: str, opname: str) -> None:
        # The exact types torch's APPEND(S) accept are a fact of each torch release.
        if target.pytype in self.facts.append_types:
            if isinstance(target, ListValue):
                target.items.extend(items)
            return
        self.issue(
            IssueKind.STRUCTURE,
            f"{opname} at offset {self.pos} targets {target.describe()}; torch only appends to "
            "exact lists",
            torch_message=self.facts.message(opname, type=class_repr(target.pytype)),
        )

    def op_SETITEM(self, arg: object, op: Opcode) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        self._setitems(self.stack[-1], [key, value], "SETITEM")

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
                    "SETITEM", opcode=opname, type=class_repr(target.pytype)
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
        self.effects.insert_keys(d, keys)
        d.items.extend(zip(keys, items[1::2], strict=True))

    def _check_hashable(self, items: list[Value], what: str) -> None:
        for item in items:
            if item.hashable is False:
                kind = (item.pytype or "object").rsplit(".", 1)[-1]
                self.issue(
                    IssueKind.INVALID,
                    f"unhashable {item.describe()} used as a {what} at offset {self.pos}",
                    torch_message=f"TypeError: unhashable type: '{kind}'",
                )
            elif item.hashable is None:
                self.issue(
                    IssueKind.UNVERIFIED,
                    f"{item.describe()} used as a {what} at offset {self.pos}; torchvet cannot tell "
                    "whether it is hashable",
                )
