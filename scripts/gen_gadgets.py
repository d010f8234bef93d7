"""Derive torchvet's gadget table from the installed stdlib, torch and numpy sources.

    python scripts/gen_gadgets.py                 # writes src/torchvet/policy/data/gadgets-torch-<ver>.json
    python scripts/gen_gadgets.py --check         # re-derive; exit 1 if the shipped table drifted
    python scripts/gen_gadgets.py --check-inputs  # fast: were the inputs the same?

A pickle can name any module-level object (GLOBAL) and call it (REDUCE), build
instances of a class (REDUCE/NEWOBJ run ``__new__``/``__init__``, BUILD runs
``__setstate__`` or ``__setattr__``, SETITEM/APPEND/ADDITEMS run ``__setitem__``,
``extend``/``append``/``add``, dict keys run ``__hash__``/``__eq__``, the collector runs
``__del__``) and, with a dotted name, reach methods. The script reads every source with
``ast`` (never importing it), builds the graph of what each of those callables refers
to, and marks every one from which a sink (``torchvet.policy.sinks``: exec/eval,
process creation, file writes, imports by name, sockets, nested unpicklers, native
code) is reachable. The table stores, for each such name, the next name on a shortest
path to its sink, so torchvet can explain "X calls Y calls os.system".

The table also records a fingerprint of its inputs (every source file read, the Python
version, this code and the sink list): the same inputs always derive the same table.
"""

from __future__ import annotations

import argparse
import builtins
import hashlib
import importlib.util
import json
import os
import sys
import sysconfig
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gadget_sources import Binding, ModuleInfo, Ref, read_module
from generated_file import write_or_check

from torchvet.policy.sinks import (
    LITERAL_SAFE,
    OPENER_REASON,
    OPENERS,
    SEVERITY,
    UNPICKLER_ATTRIBUTES,
    barrier_reason,
    sink_reason,
)

DATA = Path(__file__).resolve().parents[1] / "src" / "torchvet" / "policy" / "data"
PACKAGES = ("torch", "numpy")
# Test suites are not walked: most installs leave them out (Debian ships CPython's in a
# separate package), and a user's own package named ``test`` would collide with them.
SKIP_DIRS = {"site-packages", "__pycache__", "test", "tests", "idle_test"}
BUILTIN_NAMES = frozenset(dir(builtins))
CLASS_PROTOCOL = ("__new__", "__init__")
INSTANCE_PROTOCOL = (
    "__call__",
    "__setstate__",
    "__setattr__",
    "__getattr__",
    "__getattribute__",
    "__setitem__",
    "extend",
    "append",
    "add",
    "__del__",
    "__hash__",
    "__eq__",
)
UNPICKLER_SINK = "_pickle.Unpickler"
MAX_REST = 6  # attribute chains longer than this are not followed (``a = a.b`` loops)
Node = tuple  # ("name", qual) | ("class", q) | ("inst", q) | ("method", cls, m) | ("leaf", n)


# ----------------------------------------------------------------------------- reading
def source_files() -> list[tuple[str, bool, str]]:
    """(module name, is package, path) for the stdlib, torch and numpy (none imported)."""
    roots = [(Path(sysconfig.get_paths()["stdlib"]), None)]
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise SystemExit(f"{package} is not installed")
        roots.append((Path(spec.origin).parent.parent, package))
    out = []
    for root, only in roots:
        start = root / only if only else root
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            rel = Path(dirpath).relative_to(root).parts
            for filename in sorted(filenames):
                if not filename.endswith(".py"):
                    continue
                stem = filename[:-3]
                is_package = stem == "__init__"
                parts = list(rel) if is_package else [*rel, stem]
                if parts and all(p.isidentifier() for p in parts):
                    out.append((".".join(parts), is_package, str(Path(dirpath) / filename)))
    return out


def _read(batch: list[tuple[str, bool, str]]) -> list[ModuleInfo]:
    out = []
    for name, is_package, path in batch:
        info = read_module(name, is_package, Path(path).read_bytes())
        if info is not None:
            out.append(info)
    return out


def read_all() -> dict[str, ModuleInfo]:
    files = source_files()
    batches = [files[i : i + 200] for i in range(0, len(files), 200)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return {m.name: m for batch in pool.map(_read, batches) for m in batch}


# ----------------------------------------------------------------------------- resolving
class World:
    """Resolves dotted names over the summaries, as Python's attribute lookup would."""

    def __init__(self, modules: dict[str, ModuleInfo]) -> None:
        self.modules = modules
        self.funcs = {q: f for m in modules.values() for q, f in m.funcs.items()}
        self.classes = {q: c for m in modules.values() for q, c in m.classes.items()}
        self._mro: dict[str, list[str]] = {}
        self._memo: dict[tuple, list[Node]] = {}

    def resolve(self, path: str, module: str) -> list[Node]:
        """A path seen in ``module``: ``@abs.path`` or ``name.rest`` in module scope."""
        if path.startswith("@"):
            return self.absolute(path[1:].split("."))
        name, *rest = path.split(".")
        return self.in_module(module, name, rest, scope=True)

    def absolute(self, parts: list[str]) -> list[Node]:
        for i in range(len(parts), 0, -1):
            module = ".".join(parts[:i])
            if module in self.modules:
                if i == len(parts):
                    return [("module", module)]
                return self.in_module(module, parts[i], parts[i + 1 :])
        return [("leaf", ".".join(parts))]

    def in_module(self, module: str, name: str, rest: list[str], scope: bool = False) -> list[Node]:
        key = (module, name, tuple(rest), scope)
        if len(rest) > MAX_REST:
            return []
        if key in self._memo:
            return self._memo[key]
        self._memo[key] = []  # a cycle resolves to nothing
        self._memo[key] = result = self._in_module(module, name, rest, scope)
        return result

    def _in_module(self, module: str, name: str, rest: list[str], scope: bool) -> list[Node]:
        info = self.modules[module]
        if name in info.bindings:
            return [t for b in info.bindings[name] for t in self.follow(b, module, rest)]
        if f"{module}.{name}" in self.modules:
            return self.absolute([*module.split("."), name, *rest])
        if scope and name in BUILTIN_NAMES:
            return [("leaf", ".".join(["builtins", name, *rest]))]
        found: list[Node] = []
        for star in info.stars:
            if star not in self.modules:
                found.append(("leaf", ".".join([star, name, *rest])))
            elif name in self.modules[star].bindings or self.modules[star].stars:
                found += [t for t in self.in_module(star, name, rest) if t[0] != "leaf" or t[1]]
        if found:
            return found
        return [("leaf", ".".join(["builtins" if scope else module, name, *rest]))]

    def follow(self, binding: Binding, module: str, rest: list[str]) -> list[Node]:
        kind, target = binding
        if kind == "def":
            return [] if rest else [("name", target)]
        if kind == "class":
            return self.attribute(target, rest) if rest else [("class", target)]
        if kind == "ref":
            return self.resolve(".".join([target, *rest]), module)
        if kind == "inst":
            out: list[Node] = []
            for t in self.resolve(target, module):
                if t[0] == "class":
                    out += self.attribute(t[1], rest) if rest else [("inst", t[1])]
            return out
        return []

    def mro(self, cls: str) -> list[str]:
        """Classes in lookup order; a base torchvet cannot read is ``leaf:<name>``."""
        if cls in self._mro:
            return self._mro[cls]
        self._mro[cls] = order = [cls]
        info = self.classes[cls]
        for base in info.bases:
            for t in self.resolve(base, info.module):
                chain = self.mro(t[1]) if t[0] == "class" else [f"leaf:{t[1]}"]
                order += [c for c in chain if c not in order]
        return order

    def attribute(self, cls: str, rest: list[str], after: str | None = None) -> list[Node]:
        """``cls.rest[0]...`` looked up along the MRO (after ``after``, for super())."""
        attr, more = rest[0], rest[1:]
        order = self.mro(cls)
        if after is not None and after in order:
            order = order[order.index(after) + 1 :]
        for c in order:
            if c.startswith("leaf:"):
                return [("leaf", ".".join([c[5:], attr, *more]))]
            info = self.classes[c]
            if attr in info.methods:
                return [] if more else [("method", cls, attr)]
            if attr in info.attrs:
                return [t for b in info.attrs[attr] for t in self.follow(b, info.module, more)]
        return []

    def method_body(self, cls: str, name: str) -> tuple[str, str] | None:
        """(defining class, function qual) of ``cls.name``."""
        for c in self.mro(cls):
            if c.startswith("leaf:"):
                return None
            qual = self.classes[c].methods.get(name)
            if qual is not None:
                return c, qual
        return None


# ----------------------------------------------------------------------------- the graph
class Graph:
    def __init__(self, world: World) -> None:
        self.world = world

    def edges(self, node: Node) -> list[Node]:
        kind = node[0]
        w = self.world
        if kind != "leaf" and (sink_of(node) or barrier_reason(node_name(node))) is not None:
            return []
        if kind == "name":
            if node[1] in w.funcs:
                f = w.funcs[node[1]]
                return self._refs(f.refs, f.module, None, None)
            module, _, name = node[1].rpartition(".")
            return w.in_module(module, name, []) if module in w.modules else []
        if kind == "class":
            out = self._protocol(node[1], CLASS_PROTOCOL + INSTANCE_PROTOCOL)
            meta = w.classes[node[1]].metaclass
            if meta is not None:
                for t in w.resolve(meta, w.classes[node[1]].module):
                    if t[0] == "class":
                        out += w.attribute(t[1], ["__call__"])
            return out
        if kind == "inst":
            return self._protocol(node[1], INSTANCE_PROTOCOL)
        if kind == "method":
            found = w.method_body(node[1], node[2])
            if found is None:
                return []
            definer, qual = found
            f = w.funcs[qual]
            return self._refs(f.refs, f.module, node[1], definer)
        return []

    def _protocol(self, cls: str, names: tuple[str, ...]) -> list[Node]:
        out: list[Node] = []
        for name in names:
            out += self.world.attribute(cls, [name])
        return out

    def _refs(
        self, refs: list[Ref], module: str, cls: str | None, definer: str | None
    ) -> list[Node]:
        out: list[Node] = []
        for path, is_call, literal, mode in refs:
            targets = self._targets(path, module, cls, definer)
            if not targets and path.rsplit(".", 1)[-1].rsplit(":", 1)[-1] in UNPICKLER_ATTRIBUTES:
                targets = [("leaf", UNPICKLER_SINK)]  # pickle_module.Unpickler(...)
            out += [t for t in targets if _counts(t, is_call, literal, mode)]
        return out

    def _targets(self, path: str, module: str, cls: str | None, definer: str | None) -> list[Node]:
        w = self.world
        if path.startswith("?:"):
            return []
        if path.startswith("new:"):
            callee, rest = path[4:].rsplit("|", 1)
            out: list[Node] = []
            for t in self._targets(callee, module, cls, definer):
                if t[0] == "class":
                    out += w.attribute(t[1], rest.split("."))
            return out
        if path.startswith("self:"):
            return w.attribute(cls, path[5:].split(".")) if cls else []
        if path.startswith("super:"):
            return w.attribute(cls, path[6:].split("."), definer) if cls else []
        return w.resolve(path, module)


def _counts(target: Node, is_call: bool, literal: bool, mode: str | None) -> bool:
    """Whether a reference to ``target`` at this call site can reach its sink."""
    name = None if target[0] in ("module", "inst") else node_name(target)
    if name in OPENERS:
        return is_call and mode is not None and (mode == "?" or any(c in mode for c in "wax+"))
    if name in LITERAL_SAFE:
        return not (is_call and literal)
    return target[0] not in ("module",)


def node_name(node: Node) -> str:
    if node[0] == "method":
        return f"{node[1]}.{node[2]}"
    return node[1]


def sink_of(node: Node) -> str | None:
    """Why ``node`` is a sink (a leaf of the derivation), or None."""
    if node[0] in ("module", "inst"):
        return None
    name = node_name(node)
    if name in OPENERS:
        return OPENER_REASON
    return sink_reason(name)


def roots(world: World) -> list[Node]:
    """Everything a pickle can name: module-level names and methods of classes."""
    out: list[Node] = []
    for module, info in world.modules.items():
        names = dict.fromkeys(info.bindings)
        for star in info.stars:  # `from .impl import *` re-exports impl's public names
            if star in world.modules:
                names.update(dict.fromkeys(n for n in world.modules[star].bindings if n[0] != "_"))
        out += [("name", f"{module}.{name}") for name in names]
    for cls, info in world.classes.items():
        out.append(("class", cls))
        out += [("method", cls, m) for m in info.methods]
    return out


def derive(world: World) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> next name on a shortest path to a sink, sink -> reason)."""
    graph = Graph(world)
    forward: dict[Node, list[Node]] = {}
    todo = deque(roots(world))
    while todo:
        node = todo.popleft()
        if node in forward:
            continue
        forward[node] = targets = graph.edges(node)
        todo.extend(t for t in targets if t not in forward)
    reverse: dict[Node, list[Node]] = {}
    for node, targets in forward.items():
        for t in targets:
            reverse.setdefault(t, []).append(node)
    sinks = {n: r for n in forward if (r := sink_of(n)) is not None}
    hop: dict[Node, Node | None] = {}
    for kind in SEVERITY:  # the worst sink a name reaches explains it
        queue = deque(n for n, r in sinks.items() if r.startswith(kind) and n not in hop)
        hop.update(dict.fromkeys(queue))
        while queue:
            node = queue.popleft()
            for caller in reverse.get(node, ()):
                if caller not in hop:
                    hop[caller] = node
                    queue.append(caller)
    reach, used = _table(hop, sinks)
    _instance_methods(world, forward, reach)
    return dict(sorted(reach.items())), used


def _instance_methods(world: World, forward: dict[Node, list[Node]], reach: dict[str, str]) -> None:
    """``module.obj.method`` for module-level instances (``torch.ops.load_library``)."""
    for node, targets in forward.items():
        if node[0] != "name":
            continue
        for t in targets:
            if t[0] != "inst":
                continue
            for cls in world.mro(t[1]):
                methods = () if cls.startswith("leaf:") else world.classes[cls].methods
                for m in methods:
                    if f"{cls}.{m}" in reach:
                        reach.setdefault(f"{node[1]}.{m}", f"{cls}.{m}")


def _table(hop: dict[Node, Node | None], sinks: dict[Node, str]) -> tuple[dict, dict]:
    reach: dict[str, str] = {}
    for node, nxt in hop.items():
        if nxt is None or node[0] in ("leaf", "inst"):
            continue
        name = node_name(node)
        while nxt is not None and node_name(nxt) == name:  # the same name seen twice
            nxt = hop[nxt]
        if nxt is not None and _public(name):
            reach.setdefault(name, node_name(nxt))
    used = {node_name(n): r for n, r in sinks.items()}
    return reach, dict(sorted(used.items()))


def _public(name: str) -> bool:
    """Names a pickle can spell: no ``<locals>``-style or empty parts."""
    return all(p.isidentifier() for p in name.split("."))


# ----------------------------------------------------------------------------- output
CODE_FILES = [Path(__file__), Path(__file__).with_name("gadget_sources.py")]
# Modules that differ between builds of one release (torch/version.py names the CUDA or
# ROCm version of the wheel) and define only strings: they cannot change the table, so
# the CPU and CUDA wheels of a release share one fingerprint.
BUILD_SPECIFIC = frozenset({"torch.version"})


def fingerprint(files: list[tuple[str, bool, str]]) -> str:
    """Hash of everything the table is derived from: sources, Python, derivation code."""
    import torchvet.policy.sinks as sinks_module

    digest = hashlib.sha256(sys.version.encode())
    for path in [*CODE_FILES, Path(sinks_module.__file__)]:
        digest.update(path.read_bytes())
    for name, _, path in files:
        if name in BUILD_SPECIFIC:
            continue
        digest.update(name.encode() + b"\0" + hashlib.sha256(Path(path).read_bytes()).digest())
    return digest.hexdigest()


def encode(reach: dict[str, str]) -> dict:
    """Names sorted and front-coded ([shared prefix length, rest]), with next-name indices."""
    names = sorted(set(reach) | set(reach.values()))
    index = {n: i for i, n in enumerate(names)}
    coded, prev = [], ""
    for name in names:
        k = next((i for i, (a, b) in enumerate(zip(prev, name, strict=False)) if a != b), None)
        k = min(len(prev), len(name)) if k is None else k
        coded.append([k, name[k:]])
        prev = name
    return {"names": coded, "next": [index[reach[n]] if n in reach else -1 for n in names]}


def build() -> dict:
    reach, sinks = derive(World(read_all()))
    return {
        "versions": {
            "python": ".".join(map(str, sys.version_info[:3])),
            "torch": version("torch").split("+")[0],
            "numpy": version("numpy"),
        },
        "fingerprint": fingerprint(source_files()),
        "sinks": {k: v for k, v in sinks.items() if k in set(reach.values())},
        **encode(reach),
    }


def table_path() -> Path:
    return DATA / f"gadgets-torch-{version('torch').split('+')[0]}.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--check", action="store_true", help="re-derive and compare (the fingerprint aside)"
    )
    mode.add_argument(
        "--check-inputs",
        action="store_true",
        help="compare the fingerprint of the inputs (sources, Python, this code) and "
        "re-derive only when it differs",
    )
    args = parser.parse_args()
    path = table_path()
    shipped = json.loads(path.read_text()) if path.exists() else {}
    source = "the installed stdlib, torch and numpy"
    if args.check_inputs and shipped.get("fingerprint") == fingerprint(source_files()):
        print(f"{path} was derived from {source}")
        return 0
    table = build()
    if args.check or args.check_inputs:
        # Other inputs (another Python patch release, a CUDA wheel) may derive the same
        # table: what must match is the table, not the fingerprint.
        derived = {k: v for k, v in table.items() if k != "fingerprint"}
        if derived != {k: v for k, v in shipped.items() if k != "fingerprint"}:
            print(f"{path} is stale; regenerate with {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{path} matches {source}")
        return 0
    text = json.dumps(table, separators=(",", ":"), sort_keys=True) + "\n"
    return write_or_check(path, text, False, source, f"{len(table['next'])} names")


if __name__ == "__main__":
    raise SystemExit(main())
