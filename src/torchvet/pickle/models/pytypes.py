"""Builtins and collections a file may call: dicts (plain, ordered, counting, default),
lists, tuples, sets, ``bytearray``, ``complex`` and ``_codecs.encode``.

Containers built from other containers copy their items (charged: the memo lets a file
pass one huge container to any number of calls) and insert their keys the way CPython
does (``Effects.insert_keys`` counts the hashing work).
"""

from __future__ import annotations

import codecs

from torchvet.pickle import values
from torchvet.pickle.models.effects import Effects
from torchvet.pickle.models.registry import model, new_model
from torchvet.pickle.values import Call, Value, int_of, str_of

_SMALL_BYTEARRAY = 1 << 16  # bytearray(n) contents modelled exactly up to this size
_MAX_ENCODED = 1 << 16  # largest input torchvet runs a codec on for _codecs.encode


_DICTS = ("builtins.dict", "collections.OrderedDict", "collections.Counter")


@new_model(*_DICTS, "collections.defaultdict")
@model("collections.defaultdict")  # its arguments are a factory, not items
def empty_dict(fx: Effects, call: Call) -> Value:
    return values.DictValue(call.pos, call.target, call)  # type: ignore[arg-type]


@new_model("builtins.list")
def new_list(fx: Effects, call: Call) -> Value:
    return values.ListValue(call.pos)


@new_model("builtins.set")
def new_set(fx: Effects, call: Call) -> Value:
    return values.SetValue(call.pos)


@model("collections.OrderedDict", "builtins.dict")
def dict_from(fx: Effects, call: Call) -> Value:
    d = values.DictValue(call.pos, call.target, call)  # type: ignore[arg-type]
    if call.args:
        _fill_from_pairs(fx, call, d)
    return d


def _fill_from_pairs(fx: Effects, call: Call, d: values.DictValue) -> None:
    src = call.args[0]
    if isinstance(src, (values.DictValue, values.ListValue, values.TupleValue)):
        fx.copying(len(src.items))
    if len(call.args) == 1 and isinstance(src, values.DictValue):
        fx.insert_keys(d, [k for k, _ in src.items])
        d.items.extend(src.items)
        return
    if len(call.args) == 1 and isinstance(src, (values.ListValue, values.TupleValue)):
        pairs = []
        for item in src.items:
            if not (
                isinstance(item, (values.TupleValue, values.ListValue)) and len(item.items) == 2
            ):
                break
            pairs.append((item.items[0], item.items[1]))
        else:
            if all(k.hashable for k, _ in pairs):
                fx.insert_keys(d, [k for k, _ in pairs])
                d.items.extend(pairs)
                return
    fx.unverified(call, "mapping built from arguments torchvet does not model")


@model("collections.Counter")
def counter(fx: Effects, call: Call) -> Value:
    d = values.DictValue(call.pos, "collections.Counter", call)
    if not call.args:
        return d
    if len(call.args) == 1 and isinstance(call.args[0], values.DictValue):
        fx.copying(len(call.args[0].items))
        fx.insert_keys(d, [k for k, _ in call.args[0].items])
        d.items.extend(call.args[0].items)
        return d
    fx.unverified(call, "Counter built from something other than a dict")
    return d


@model("builtins.set", "builtins.frozenset")
def set_from(fx: Effects, call: Call) -> Value:
    s = values.SetValue(call.pos, frozen=call.target == "builtins.frozenset")
    if not call.args:
        return s
    src = call.args[0]
    if len(call.args) == 1 and isinstance(
        src, (values.ListValue, values.TupleValue, values.SetValue)
    ):
        fx.copying(2 * len(src.items))
        unhashable = [x for x in src.items if x.hashable is False]
        unknown = [x for x in src.items if x.hashable is None]
        if unhashable:
            fx.invalid(
                f"set at offset {call.pos} contains an unhashable item",
                "TypeError: unhashable type",
            )
        elif unknown:
            fx.unverified(call, "set item of unknown hashability")
        fx.insert_keys(s, src.items)
        s.items.extend(src.items)
        return s
    fx.unverified(call, "set built from something other than a list")
    return s


@model("builtins.list")
def list_from(fx: Effects, call: Call) -> Value:
    out = values.ListValue(call.pos)
    if call.args and isinstance(
        call.args[0], (values.ListValue, values.TupleValue, values.SetValue)
    ):
        fx.copying(len(call.args[0].items))
        out.items.extend(call.args[0].items)
    return out


@model("builtins.tuple")
def tuple_from(fx: Effects, call: Call) -> Value:
    if call.args and isinstance(call.args[0], (values.ListValue, values.TupleValue)):
        fx.copying(len(call.args[0].items))
        return values.TupleValue(call.pos, tuple(call.args[0].items))
    return values.Instance(call.pos, "builtins.tuple", call)


@model("builtins.bytearray")
def bytearray_(fx: Effects, call: Call) -> Value:
    a = call.args
    data: bytes | None = None
    if not a:
        data = b""
    elif len(a) == 1 and isinstance(a[0], values.Const) and type(a[0].value) is bytes:
        data = a[0].value
    elif len(a) == 1 and int_of(a[0]) is not None:
        return _bytearray_of_size(fx, call, a[0].value)  # type: ignore[union-attr]
    elif len(a) == 2 and str_of(a[0]) is not None and str_of(a[1]) in ("latin1", "latin-1"):
        text: str = a[0].value  # type: ignore[union-attr]
        try:
            fx.charge(len(text) >> 6)
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            fx.invalid("bytearray text not encodable as latin-1", "UnicodeEncodeError")
            return values.Instance(call.pos, "builtins.bytearray", call, hashable=False)
    if data is None:
        fx.unverified(call, "bytearray built from arguments torchvet does not model")
    return values.Instance(call.pos, "builtins.bytearray", call, hashable=False, info=data)


def _bytearray_of_size(fx: Effects, call: Call, n: int) -> Value:
    """``bytearray(n)`` allocates and zero-fills n bytes: a few bytes of pickle can
    ask for gigabytes."""
    if n < 0:
        fx.invalid("bytearray with a negative size", "ValueError: negative count")
        return values.Opaque(call.pos)
    fx.allocate(call, n, f"bytearray({n}), zero-filled,")
    data = bytes(n) if n <= _SMALL_BYTEARRAY else None
    return values.Instance(call.pos, "builtins.bytearray", call, hashable=False, info=data)


@model("builtins.complex")
def complex_(fx: Effects, call: Call) -> Value:
    a = call.args
    nums = [x.value for x in a if isinstance(x, values.Const) and type(x.value) in (int, float)]
    if 1 <= len(a) <= 2 and len(nums) == len(a):
        try:
            return values.Const(call.pos, complex(*nums))
        except OverflowError:
            fx.invalid("complex number overflows", "OverflowError")
            return values.Opaque(call.pos)
    fx.unverified(call, "complex built from arguments torchvet does not model")
    return values.Instance(call.pos, "builtins.complex", call, hashable=True)


@model("_codecs.encode")
def codecs_encode(fx: Effects, call: Call) -> Value:
    """``_codecs.encode(obj, encoding, errors)``, which torch calls with whatever the
    pickle passes. The codec is looked up among the standard library's codecs (the
    only ones registered in torchvet's process; their modules hold tables, nothing a
    file can steer) and run on the constant, so the result is exactly torch's."""
    a = call.args
    consts = [x.value for x in a if isinstance(x, values.Const) and type(x.value) in (str, bytes)]
    if not 1 <= len(a) <= 3 or len(consts) != len(a) or call.kwargs is not None:
        fx.unverified(call, "_codecs.encode with arguments torchvet does not model")
        return values.Instance(call.pos, "builtins.bytes", call, hashable=True)
    if len(consts[0]) > _MAX_ENCODED or any(type(x) is not str for x in consts[1:]):
        # Some codecs (punycode) take quadratic time: torchvet does not run them on
        # large inputs, and cannot vouch for the result.
        fx.unverified(call, "_codecs.encode of a large or unusual input")
        return values.Instance(call.pos, "builtins.bytes", call, hashable=True)
    try:
        fx.charge(len(consts[0]) >> 6)  # a memoised megabyte string, encoded again per call
        return values.Const(call.pos, codecs.encode(*consts))  # type: ignore[call-overload]
    except (LookupError, TypeError, ValueError) as exc:  # UnicodeError is a ValueError
        fx.invalid(f"_codecs.encode fails: {exc}", f"{type(exc).__name__}: {exc}")
        return values.Opaque(call.pos)
