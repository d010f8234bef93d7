"""Reflective calls: what ``getattr``, ``__import__``, ``importlib``, ``functools.partial``,
``operator.methodcaller`` / ``attrgetter`` / ``getitem`` and ``copyreg`` reach.

None of these is allowlisted by torch; they are modelled so that a chain such as
``getattr(__import__("os"), "system")`` is judged by where it leads (``os.system``),
and so that calling what they return (REDUCE on a partial) is followed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torchvet.pickle import values
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model
from torchvet.pickle.values import Call, Value, cut, is_falsy, str_of

_MAX_CHAIN = 64  # getattr/attribute chains longer than this are not resolved
_MAX_TARGET = 1024  # characters of a call's dotted target name


@dataclass
class Partial:
    func: Value
    args: tuple[Value, ...]


@dataclass
class MethodCaller:
    name: str
    args: tuple[Value, ...]


@dataclass
class AttrGetter:
    names: tuple[str, ...]


# ---------------------------------------------------------------------------- resolution
def target_name(func: Value) -> str | None:
    """The dotted name a call reaches, followed through attribute chains."""
    parts: list[str] = []
    v = func
    for _ in range(_MAX_CHAIN):
        if isinstance(v, values.GlobalName):
            return v.qualname if not parts else _dotted(v.qualname, parts)
        if isinstance(v, values.ModuleValue):
            return _dotted(v.name, parts)
        if isinstance(v, values.Attr):
            parts.append(v.name)
            v = v.base
            continue
        if isinstance(v, values.Instance):
            if isinstance(v.info, Partial):
                if parts:
                    return None
                v = v.info.func  # partial(partial(f)) calls f: follow, within the bound
                continue
            if v.pytype is not None and parts:
                # A method looked up on an instance: name it by the instance's type.
                return _dotted(v.pytype, parts)
        return None
    return None


def _dotted(head: str, parts: list[str]) -> str:
    """``head.part...`` (parts innermost first). Every call keeps its target, so a chain
    of megabyte-long attribute names is cut to a name no catalog entry is that long."""
    if len(head) + sum(len(p) for p in parts) > _MAX_TARGET:
        return cut(".".join([cut(head), *(cut(p) for p in reversed(parts))]), _MAX_TARGET)
    return ".".join([head, *reversed(parts)])


Apply = Callable[[Effects, Call], Value]


def call_object(fx: Effects, call: Call, func: values.Instance, apply: Apply) -> Value:
    """REDUCE whose callee is itself the result of a call (partial, methodcaller...)."""
    info = func.info
    if isinstance(info, Partial):
        fx.copying(len(info.args))
        return _nested_call(fx, call, info.func, info.args + call.args, apply)
    if isinstance(info, MethodCaller) and call.args:
        method = values.Attr(call.pos, call.args[0], info.name)
        return _nested_call(fx, call, method, info.args, apply)
    if isinstance(info, AttrGetter) and call.args:
        v: Value = call.args[0]
        for dotted in info.names:
            for part in dotted.split("."):
                v = values.Attr(call.pos, v, part)
        return v
    return values.Instance(call.pos, None, call)


def _nested_call(
    fx: Effects,
    outer: Call,
    func: Value,
    args: tuple[Value, ...],
    apply: Apply,
) -> Value:
    inner = Call(outer.pos, outer.opcode, func, args, None, target_name(func))
    fx.record_call(inner)
    if inner.target is None:
        fx.dynamic(
            f"{outer.opcode} at offset {outer.pos} calls {func.describe()}, which torchvet "
            "cannot resolve"
        )
        return values.Instance(outer.pos, None, inner)
    return apply(fx, inner)


# ---------------------------------------------------------------------------- models
@model("builtins.getattr")
def getattr_(fx: Effects, call: Call) -> Value:
    a = call.args
    name = str_of(a[1]) if len(a) >= 2 else None
    if name is None:
        fx.dynamic(f"getattr at offset {call.pos} with a computed attribute name")
        return values.Opaque(call.pos, "dynamic getattr")
    return values.Attr(call.pos, a[0], name)


@model("builtins.__import__", "importlib.__import__")
def import_(fx: Effects, call: Call) -> Value:
    name = str_of(call.args[0]) if call.args else None
    if name is None:
        fx.dynamic(f"import at offset {call.pos} of a computed module name")
        return values.Opaque(call.pos, "dynamic import")
    fromlist = call.args[3] if len(call.args) > 3 else None
    if fromlist is not None and not is_falsy(fromlist):
        return values.ModuleValue(call.pos, name)
    return values.ModuleValue(call.pos, name.split(".")[0])


@model("importlib.import_module")
def import_module(fx: Effects, call: Call) -> Value:
    name = str_of(call.args[0]) if call.args else None
    if name is None:
        fx.dynamic(f"import_module at offset {call.pos} of a computed name")
        return values.Opaque(call.pos, "dynamic import")
    return values.ModuleValue(call.pos, name)


@model("operator.getitem", "_operator.getitem")
def getitem(fx: Effects, call: Call) -> Value:
    a = call.args
    if len(a) == 2 and isinstance(a[0], values.GlobalName) and a[0].qualname == "sys.modules":
        name = str_of(a[1])
        if name is not None:
            return values.ModuleValue(call.pos, name)
    if len(a) == 2 and isinstance(a[0], values.DictValue) and isinstance(a[1], values.Const):
        fx.copying(len(a[0].items))
        found = a[0].lookup(a[1].value)
        if found is not None:
            return found
    return values.Instance(call.pos, None, call)


@model("functools.partial")
def partial(fx: Effects, call: Call) -> Value:
    if not call.args:
        return values.Instance(call.pos, "functools.partial", call)
    info = Partial(call.args[0], call.args[1:])
    return values.Instance(call.pos, "functools.partial", call, info=info)


@model("operator.methodcaller", "_operator.methodcaller")
def methodcaller(fx: Effects, call: Call) -> Value:
    name = str_of(call.args[0]) if call.args else None
    if name is None:
        fx.dynamic(f"methodcaller at offset {call.pos} with a computed name")
        return values.Opaque(call.pos)
    info = MethodCaller(name, call.args[1:])
    return values.Instance(call.pos, "operator.methodcaller", call, info=info)


@model("operator.attrgetter", "_operator.attrgetter")
def attrgetter(fx: Effects, call: Call) -> Value:
    names = tuple(str_of(x) for x in call.args)
    if not names or any(n is None for n in names):
        fx.dynamic(f"attrgetter at offset {call.pos} with a computed name")
        return values.Opaque(call.pos)
    return values.Instance(call.pos, "operator.attrgetter", call, info=AttrGetter(names))  # type: ignore[arg-type]


@model("copyreg._reconstructor")
def reconstructor(fx: Effects, call: Call) -> Value:
    # copyreg._reconstructor(cls, base, state): base.__new__(cls, state) and, unless
    # base is object, base.__init__(obj, state) -- base's code runs.
    a = call.args
    if len(a) == 3:
        base = a[1]
        if not (isinstance(base, values.GlobalName) and base.qualname == "builtins.object"):
            fx.record_call(Call(call.pos, "REDUCE", base, (a[2],), None, target_name(base)))
        return values.Instance(call.pos, target_name(a[0]), call)
    return values.Instance(call.pos, None, call)


@model("copyreg.__newobj__")
def copyreg_newobj(fx: Effects, call: Call) -> Value:
    cls = call.args[0] if call.args else None
    return values.Instance(call.pos, target_name(cls) if cls is not None else None, call)
