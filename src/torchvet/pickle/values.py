"""Symbolic values: what the machine keeps on its stack and in its memo.

Nothing here is ever a real object from the file: a global is a *name*, a call is a
*record* of callee and arguments, an instance knows only the name of its runtime type
(when torchvet can tell it) and the state BUILD gave it. Every value remembers the
byte offset of the opcode that made it.

``pytype`` is the name of the value's runtime type as torch's unpickler would see it
(``type(obj)``), or None when it cannot be known without running code.
"""

from __future__ import annotations

from typing import Any

_HASHABLE_CONST_TYPES = (type(None), bool, int, float, str, bytes, complex)
# One string per constant type: a pickle of a million constants must not hold a
# million copies of "builtins.int".
_CONST_TYPES = {t: "builtins." + t.__name__ for t in _HASHABLE_CONST_TYPES}
_SHOWN = 60  # characters of a value shown in a message
_MAX_SHOWN_CHAIN = 16  # attribute-chain links shown in a message


def cut(text: str, limit: int = 2 * _SHOWN) -> str:
    """A name from the file, shortened for a message: names can be megabytes long and a
    file can have one described at every opcode."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class Value:
    __slots__ = ("pos",)
    pytype: str | None = None
    hashable: bool | None = None  # None: cannot tell

    def __init__(self, pos: int) -> None:
        self.pos = pos

    def describe(self) -> str:
        return cut(self.pytype or "object")


class Const(Value):
    """None, bool, int, float, complex, str or bytes with its exact value."""

    __slots__ = ("pytype", "value")
    hashable = True

    def __init__(self, pos: int, value: Any) -> None:
        super().__init__(pos)
        self.value = value
        self.pytype = _CONST_TYPES.get(type(value)) or "builtins." + type(value).__name__

    def describe(self) -> str:
        # Cut before repr: a value the memo lets a file name a million times may be
        # megabytes long, and a huge int has no decimal repr at all (str(10**5000) fails).
        value = self.value
        if isinstance(value, int) and value.bit_length() > 128:
            return f"an int of {value.bit_length()} bits"
        if isinstance(value, (str, bytes, bytearray)) and len(value) > _SHOWN:
            return repr(value[:_SHOWN])[:_SHOWN] + f"... ({len(value)} long)"
        text = repr(value)
        return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


class TupleValue(Value):
    __slots__ = ("hashable", "items")
    pytype = "builtins.tuple"

    def __init__(self, pos: int, items: tuple[Value, ...]) -> None:
        super().__init__(pos)
        self.items = items
        h: bool | None = True
        for item in items:
            if item.hashable is False:
                h = False
                break
            if item.hashable is None:
                h = None
        self.hashable = h

    def describe(self) -> str:
        return f"tuple of {len(self.items)}"


class ListValue(Value):
    __slots__ = ("items",)
    pytype = "builtins.list"
    hashable = False

    def __init__(self, pos: int, items: list[Value] | None = None) -> None:
        super().__init__(pos)
        self.items = items if items is not None else []


class DictValue(Value):
    """A dict-like container: plain dict, OrderedDict, Counter, defaultdict, ..."""

    __slots__ = ("attrs", "call", "hash_counts", "items", "pytype")
    hashable = False

    def __init__(self, pos: int, pytype: str = "builtins.dict", call: Call | None = None) -> None:
        super().__init__(pos)
        self.items: list[tuple[Value, Value]] = []
        self.pytype = pytype
        self.call = call
        self.attrs: Value | None = None  # BUILD state (OrderedDict's _metadata, ...)
        # Keys inserted per hash value, for keys whose hash is the same in every process
        # (see pickle/hashwork.py); None until one is inserted.
        self.hash_counts: dict[int, int] | None = None

    def lookup(self, key: Any) -> Value | None:
        """The last value set under a constant key (dict semantics: last wins)."""
        found = None
        for k, v in self.items:
            if isinstance(k, Const) and k.value == key and type(k.value) is type(key):
                found = v
        return found


class SetValue(Value):
    __slots__ = ("hash_counts", "hashable", "items", "pytype")

    def __init__(self, pos: int, items: list[Value] | None = None, frozen: bool = False) -> None:
        super().__init__(pos)
        self.items = items if items is not None else []
        self.hash_counts: dict[int, int] | None = None  # as for DictValue
        self.pytype = "builtins.frozenset" if frozen else "builtins.set"
        self.hashable = frozen


_EMPTY_STR = {
    "builtins.list": "[]",
    "builtins.tuple": "()",
    "builtins.dict": "{}",
    "builtins.set": "set()",
    "builtins.frozenset": "frozenset()",
}


def python_str(v: Value) -> str:
    """``str(v)`` as the loader would print it, where the file fixes it (short constants,
    empty builtin containers); otherwise torchvet's description."""
    if isinstance(v, Const) and isinstance(v.value, str) and len(v.value) <= _SHOWN:
        return v.value  # other constants: describe() is their repr, which str() equals
    if isinstance(v, (ListValue, TupleValue, DictValue, SetValue)) and not v.items:
        return _EMPTY_STR.get(v.pytype or "", v.describe())
    return v.describe()


class GlobalName(Value):
    """A reference to a global ``module.name`` (after torch's Python 2 name mapping)."""

    __slots__ = ("module", "name", "qualname", "raw")
    hashable = True

    def __init__(self, pos: int, module: str, name: str, raw: tuple[str, str]) -> None:
        super().__init__(pos)
        self.module = module
        self.name = name
        self.raw = raw  # as written in the file, before mapping
        # Built once: every call of a memoised global keeps it as its target.
        self.qualname = f"{module}.{name}"

    def describe(self) -> str:
        return cut(self.qualname)


class ModuleValue(Value):
    """A module object obtained by an import call inside the pickle."""

    __slots__ = ("name",)
    pytype = "builtins.module"
    hashable = True

    def __init__(self, pos: int, name: str) -> None:
        super().__init__(pos)
        self.name = name

    def describe(self) -> str:
        return f"module {cut(self.name)}"


class Attr(Value):
    """``getattr(base, name)`` and friends: an attribute reached at load time."""

    __slots__ = ("base", "name")

    def __init__(self, pos: int, base: Value, name: str) -> None:
        super().__init__(pos)
        self.base = base
        self.name = name

    def describe(self) -> str:
        # Iterative and cut: a getattr chain can be as long as the pickle allows, and a
        # file may have every link of it described.
        names = [cut(self.name)]
        base = self.base
        while isinstance(base, Attr):
            if len(names) == _MAX_SHOWN_CHAIN:
                return cut(".".join(["(a long attribute chain)...", *reversed(names)]))
            names.append(cut(base.name))
            base = base.base
        return cut(".".join([base.describe(), *reversed(names)]))


class Call:
    """One call the unpickler would make: REDUCE, NEWOBJ, NEWOBJ_EX, INST or OBJ."""

    __slots__ = ("args", "func", "kwargs", "opcode", "pos", "target")

    def __init__(
        self,
        pos: int,
        opcode: str,
        func: Value,
        args: tuple[Value, ...],
        kwargs: Value | None = None,
        target: str | None = None,
    ) -> None:
        self.pos = pos
        self.opcode = opcode
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.target = target  # dotted name of what is called, when it can be resolved


class Instance(Value):
    """The result of a call: an instance of ``pytype`` (None when unknowable)."""

    __slots__ = ("call", "hashable", "info", "pytype", "state")

    def __init__(
        self,
        pos: int,
        pytype: str | None,
        call: Call | None = None,
        hashable: bool | None = None,
        info: Any = None,
    ) -> None:
        super().__init__(pos)
        self.pytype = pytype
        self.call = call
        # BUILD states, in order; a shared empty tuple until the first BUILD (most
        # objects never get one, and a million calls must not hold a million lists).
        self.state: list[Value] | tuple[()] = ()
        self.hashable = hashable
        self.info = info  # model-specific payload (tensor metadata, partial args, ...)

    def describe(self) -> str:
        if self.call is not None and self.call.target:
            return f"{cut(self.call.target)}(...)"
        return cut(self.pytype or "object")


class Storage(Value):
    """A storage from a persistent id: bytes of a container record."""

    __slots__ = ("dtype", "key", "location", "nbytes", "record")
    pytype = "torch.storage.TypedStorage"
    hashable = True

    def __init__(
        self,
        pos: int,
        key: str,
        dtype: str,
        nbytes: int,
        location: str,
        record: Any = None,
    ) -> None:
        super().__init__(pos)
        self.key = key
        self.dtype = dtype  # torch dtype name, e.g. "float32"
        self.nbytes = nbytes
        self.location = location
        self.record = record  # container-specific handle to the bytes

    def describe(self) -> str:
        return f"storage {cut(repr(self.key[:200]))} ({self.dtype}, {self.nbytes} bytes)"


class Opaque(Value):
    """A value whose content cannot be known (after an error or an unmodelled op)."""

    __slots__ = ("why",)

    def __init__(self, pos: int, why: str = "") -> None:
        super().__init__(pos)
        self.why = why


def is_falsy(v: Value) -> bool | None:
    """Python truthiness of a symbolic value, None when unknown."""
    if isinstance(v, Const):
        return not v.value
    if isinstance(v, TupleValue):
        return not v.items
    if isinstance(v, (ListValue, SetValue)):
        return not v.items
    if isinstance(v, DictValue):
        return not v.items
    return None


# Values of a type that is not callable: every unpickler stops calling one.
UNCALLABLE = (Const, TupleValue, ListValue, DictValue, SetValue, Storage)


def surely_not_str(v: Value) -> bool:
    """Whether ``v`` is certainly not of type ``str`` exactly (STACK_GLOBAL's check).

    An instance NEWOBJ made is of its class (a class whose ``__new__`` returns something
    else is itself an unknown global, already reported)."""
    if isinstance(v, Const):
        return type(v.value) is not str
    if isinstance(v, Instance):
        made_by_new = v.call is not None and v.call.opcode in ("NEWOBJ", "NEWOBJ_EX")
        return made_by_new and v.pytype not in (None, "builtins.str")
    return isinstance(v, (TupleValue, ListValue, DictValue, SetValue, GlobalName, Storage))


# ---------------------------------------------------------------------------- accessors
def int_of(v: Value) -> int | None:
    """The value of a constant of type ``int`` exactly (a bool is not one)."""
    if isinstance(v, Const) and type(v.value) is int:
        return v.value
    return None


def bool_of(v: Value) -> bool | None:
    if isinstance(v, Const) and type(v.value) is bool:
        return v.value
    return None


def str_of(v: Value) -> str | None:
    if isinstance(v, Const) and type(v.value) is str:
        return v.value
    return None


def is_shape_like(v: Value) -> bool:
    """A tuple, list or ``torch.Size``: what torch's IntArrayRef arguments may be."""
    return isinstance(v, (TupleValue, ListValue)) or (
        isinstance(v, Instance) and v.pytype == "torch.Size"
    )


def ints_of(v: Value) -> tuple[int, ...] | None:
    """A list / tuple / torch.Size made of exact ints only (what IntArrayRef accepts)."""
    if isinstance(v, Instance) and v.pytype == "torch.Size" and isinstance(v.info, tuple):
        return v.info
    if isinstance(v, (TupleValue, ListValue)):
        items = v.items
        out = tuple(x.value for x in items if type(x) is Const and type(x.value) is int)
        return out if len(out) == len(items) else None
    return None
