"""Walk the symbolic object a checkpoint holds and name its tensors like torch does.

Containers give dotted names (``dict`` keys, list indices); a pickled ``nn.Module``
is walked through its BUILD state (``_parameters``, persistent ``_buffers``,
``_modules``) in the order ``state_dict()`` uses. Tensor leaves become ``Leaf``
records; non-tensor leaves that are plain data become JSON for ``__metadata__``;
everything else is reported as dropped. Nothing the file names is imported or run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from torchvet.pickle.tensorinfo import PARAMETER, TENSOR, TensorInfo, tensor_info
from torchvet.pickle.values import (
    Const,
    DictValue,
    GlobalName,
    Instance,
    ListValue,
    SetValue,
    Storage,
    TupleValue,
    Value,
)

MAX_DEPTH = 200
MAX_METADATA_VALUE = 64 << 10  # one JSON value in __metadata__
# Objects whose BUILD state is plain attributes: exported as a JSON object.
ATTRIBUTE_OBJECTS = frozenset({"argparse.Namespace", "types.SimpleNamespace"})
TENSOR_TYPES = frozenset({TENSOR, PARAMETER})


@dataclass
class Leaf:
    """A tensor found at ``path`` (its TensorInfo may be None: not readable)."""

    path: str
    value: Instance
    info: TensorInfo | None


@dataclass
class Walk:
    tensors: list[Leaf] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _const(v: Value) -> object:
    if isinstance(v, Const) and not isinstance(v.value, bytes):
        return v.value
    if isinstance(v, TupleValue):
        return tuple(_const(x) for x in v.items)
    raise ValueError


def key_text(k: Value) -> str | None:
    """How a dict key reads in a dotted name: a str as is, other constants (numbers,
    None, tuples of them) as ``str()`` prints them."""
    try:
        value = _const(k)
    except ValueError:
        return None
    return value if isinstance(value, str) else str(value)


def is_tensor(v: Value) -> bool:
    return isinstance(v, Instance) and (tensor_info(v) is not None or v.pytype in TENSOR_TYPES)


def module_state(v: Value) -> DictValue | None:
    """The attribute dict of a pickled nn.Module, or None if ``v`` is not one."""
    if not isinstance(v, Instance) or is_tensor(v) or not v.state:
        return None
    state = v.state[0]
    if isinstance(state, DictValue) and all(
        state.lookup(k) is not None for k in ("_parameters", "_buffers", "_modules")
    ):
        return state
    return None


def _str_items(d: Value) -> Iterator[tuple[str, Value]]:
    if isinstance(d, DictValue):
        for k, v in d.items:
            if isinstance(k, Const) and isinstance(k.value, str):
                yield k.value, v


def module_tensors(state: DictValue) -> Iterator[tuple[str, Value]]:
    """(relative dotted name, value) in ``Module.state_dict()`` order; submodules are
    yielded as values for the caller to recurse into (name, module Instance)."""
    skip: set[str] = set()
    non_persistent = state.lookup("_non_persistent_buffers_set")
    if isinstance(non_persistent, SetValue):
        skip = {x.value for x in non_persistent.items if isinstance(x, Const)}
    for name, v in _str_items(state.lookup("_parameters")):
        if not (isinstance(v, Const) and v.value is None):
            yield name, v
    for name, v in _str_items(state.lookup("_buffers")):
        if name not in skip and not (isinstance(v, Const) and v.value is None):
            yield name, v
    for name, v in _str_items(state.lookup("_modules")):
        if not (isinstance(v, Const) and v.value is None):
            yield name, v


class _NotPlain(Exception):
    pass


def plain(v: Value, dtypes: frozenset[str], depth: int = 0) -> object:
    """The JSON-able Python value of a plain-data subtree; raises _NotPlain otherwise."""
    if depth > MAX_DEPTH:
        raise _NotPlain("nested too deeply")
    if isinstance(v, Const):
        if v.value is None or isinstance(v.value, (bool, int, float, str)):
            return v.value
        raise _NotPlain(f"{type(v.value).__name__} value")
    if isinstance(v, (ListValue, TupleValue)):
        return [plain(x, dtypes, depth + 1) for x in v.items]
    if isinstance(v, DictValue) and v.pytype in ("builtins.dict", "collections.OrderedDict"):
        out: dict[str, object] = {}
        for k, x in v.items:
            if not (isinstance(k, Const) and isinstance(k.value, (str, int, bool, float))):
                raise _NotPlain("a dict key that is not a string or number")
            out[str(k.value)] = plain(x, dtypes, depth + 1)
        return out
    if isinstance(v, GlobalName) and v.qualname in dtypes:
        return v.qualname
    if isinstance(v, Instance) and v.pytype == "torch.Size" and isinstance(v.info, tuple):
        return list(v.info)
    if isinstance(v, Instance) and v.pytype in ATTRIBUTE_OBJECTS and len(v.state) == 1:
        return plain(v.state[0], dtypes, depth + 1)
    raise _NotPlain(describe(v))


def describe(v: Value) -> str:
    if isinstance(v, Storage):
        return "a bare storage"
    if isinstance(v, Instance):
        if v.call is not None and v.call.target:
            return f"an object built by {v.call.target}"
        return f"a {v.pytype or 'object of unknown type'}"
    if isinstance(v, DictValue):
        return f"a {v.pytype}"
    return f"a {v.describe()}"


ArrayReader = Callable[[Value], TensorInfo | None]


class Walker:
    """``arrays``: recognises numpy arrays (tensors too, for the converter)."""

    def __init__(self, dtypes: frozenset[str], arrays: ArrayReader | None = None) -> None:
        self.dtypes = dtypes
        self.arrays = arrays
        self.out = Walk()
        self._active: set[int] = set()
        self._has_tensor: dict[int, bool] = {}

    def tensor(self, v: Value) -> tuple[bool, TensorInfo | None]:
        """(is a tensor or numeric array, its info when readable)."""
        if is_tensor(v):
            return True, tensor_info(v)
        info = self.arrays(v) if self.arrays is not None else None
        return info is not None, info

    def child(self) -> Walker:
        """A fresh walker with the same readers (to count tensors elsewhere)."""
        return Walker(self.dtypes, self.arrays)

    # -- tensor presence (memoised; cycles count as tensor-free)
    def has_tensor(self, v: Value, depth: int = 0) -> bool:
        key = id(v)
        cached = self._has_tensor.get(key)
        if cached is not None:
            return cached
        if depth > MAX_DEPTH:
            return False
        self._has_tensor[key] = False  # provisional: breaks cycles
        found = any(self.has_tensor(c, depth + 1) for c in self._children(v))
        found = found or self.tensor(v)[0]
        self._has_tensor[key] = found
        return found

    def _children(self, v: Value) -> Iterator[Value]:
        if self.tensor(v)[0]:
            return
        if isinstance(v, DictValue):
            for _, x in v.items:
                yield x
        elif isinstance(v, (ListValue, TupleValue, SetValue)):
            yield from v.items
        elif isinstance(v, Instance):
            yield from v.state

    # -- the walk
    def walk(self, v: Value, path: str, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            self.out.dropped.append((path, "nested too deeply"))
            return
        found, info = self.tensor(v)
        if found:
            assert isinstance(v, Instance)
            self.out.tensors.append(Leaf(path, v, info))
            return
        if not self.has_tensor(v):
            self.data(v, path)
            return
        if id(v) in self._active:
            self.out.dropped.append((path, "refers back to a container that holds it"))
            return
        self._active.add(id(v))
        try:
            self._walk_container(v, path, depth)
        finally:
            self._active.discard(id(v))

    def _walk_container(self, v: Value, path: str, depth: int) -> None:
        state = module_state(v)
        if state is not None:
            for name, x in module_tensors(state):
                if module_state(x) is None or self.has_tensor(x):  # skip empty submodules
                    self.walk(x, join(path, name), depth + 1)
            return
        if isinstance(v, DictValue):
            for k, x in v.items:
                text = key_text(k)
                if text is None:
                    if self.has_tensor(x):
                        self.out.dropped.append(
                            (join(path, f"<key {k.describe()}>"), "a dict key that cannot be named")
                        )
                    continue
                self.walk(x, join(path, text), depth + 1)
        elif isinstance(v, (ListValue, TupleValue)):
            for i, x in enumerate(v.items):
                self.walk(x, join(path, str(i)), depth + 1)
        elif isinstance(v, SetValue):
            self.out.dropped.append((path, "tensors inside a set have no names"))
        elif isinstance(v, Instance):
            # An object of some class holding tensors: its attribute dict names them.
            if len(v.state) == 1 and isinstance(v.state[0], DictValue):
                for name, x in _str_items(v.state[0]):
                    self.walk(x, join(path, name), depth + 1)
            else:
                self.out.dropped.append((path, f"tensors inside {describe(v)}"))

    def data(self, v: Value, path: str) -> None:
        """A tensor-free subtree: JSON for __metadata__, or dropped."""
        try:
            value = plain(v, self.dtypes)
        except _NotPlain as exc:
            self.out.dropped.append((path or "<root>", f"not plain data: {exc}"))
            return
        text = json.dumps(value, ensure_ascii=False)
        if len(text.encode()) > MAX_METADATA_VALUE:
            self.out.dropped.append(
                (path, f"{len(text)} characters of JSON, too large for metadata")
            )
            return
        self.out.metadata[path or "<root>"] = text
