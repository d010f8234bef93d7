"""Catalogs that *explain* why a name is refused. They never make anything safe.

* INERT: exact names torch refuses that only build plain data (numpy arrays and scalars,
  argparse.Namespace, paths, dates, config containers). A file refused only because of
  these is ``needs-allowlist``; torchvet prints the exact allowlist. Exact means exact:
  ``module`` + one attribute, never a pattern (CPython walks a dotted global as an
  attribute path, so ``numpy.dtypes.*`` would also match
  ``numpy.dtypes.__loader__.set_data``). Lists that follow a library's releases are
  generated from the library (``scripts/gen_inert.py``).

  Audit rule for an inert name: whatever arguments a pickle passes it, and whatever
  BUILD, SETITEM or APPEND then does to what it returns, it only ever calls objects the
  pickle itself had to name (each of which is judged), never reaches a name it computes
  from data (no getattr, import, or file path taken from its arguments), and touches no
  files, processes or network. ``tests/redteam/test_guard_and_load.py`` holds the cases found.
* GADGETS: names that run code, touch files, processes or the network, import
  modules, reach arbitrary attributes, or load nested pickles. Any of them makes a
  file ``dangerous``. Each entry carries its reason.
* REFLECTIVE: names that are not gadgets themselves but hand a pickle a way to reach
  one (``getattr``, ``functools.partial``): never allowlist them; the call chain
  they take part in is followed and judged by where it ends.

Gadget entries are exact ``module.name`` strings or module prefixes ending in ``.*``
(matching the module and all its submodules); a prefix only ever makes more names
dangerous.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from torchvet.policy.gadgets import derived_reason
from torchvet.policy.names import cpython_resolutions, is_attribute_chain, is_dunder


@dataclass(frozen=True)
class Entry:
    pattern: str
    reason: str


def _entries(table: dict[str, str]) -> list[Entry]:
    return [Entry(p, r) for p, r in table.items()]


_NUMPY_ARRAYS = "rebuilds numpy arrays, scalars or dtypes (plain data)"
_NUMPY_RANDOM = "numpy random generator state"
_PATH = "a file path (not opened)"
_OMEGACONF = "OmegaConf configuration"
_LIGHTNING = "Lightning hyper-parameter dict"
INERT: dict[str, str] = {
    "numpy.core.multiarray._reconstruct": _NUMPY_ARRAYS,
    "numpy._core.multiarray._reconstruct": _NUMPY_ARRAYS,
    "numpy.core.multiarray.scalar": _NUMPY_ARRAYS,
    "numpy._core.multiarray.scalar": _NUMPY_ARRAYS,
    "numpy.core.numeric._frombuffer": _NUMPY_ARRAYS,
    "numpy._core.numeric._frombuffer": _NUMPY_ARRAYS,
    "numpy.ndarray": _NUMPY_ARRAYS,
    "numpy.dtype": _NUMPY_ARRAYS,
    # __randomstate_ctor and __generator_ctor call their second argument: an object the
    # pickle names itself (judged on its own), as REDUCE would.
    "numpy.random._pickle.__randomstate_ctor": _NUMPY_RANDOM,
    "numpy.random._pickle.__bit_generator_ctor": _NUMPY_RANDOM,
    "numpy.random._pickle.__generator_ctor": _NUMPY_RANDOM,
    "numpy.random.mtrand.RandomState": _NUMPY_RANDOM,
    "numpy.random._mt19937.MT19937": _NUMPY_RANDOM,
    "numpy.random._pcg64.PCG64": _NUMPY_RANDOM,
    "numpy.random._pcg64.PCG64DXSM": _NUMPY_RANDOM,
    "numpy.random._philox.Philox": _NUMPY_RANDOM,
    "numpy.random._sfc64.SFC64": _NUMPY_RANDOM,
    "numpy.random._generator.Generator": _NUMPY_RANDOM,
    "argparse.Namespace": "command-line arguments (plain attributes)",
    "types.SimpleNamespace": "plain attributes",
    "pathlib.Path": _PATH,
    "pathlib.PosixPath": _PATH,
    "pathlib.WindowsPath": _PATH,
    "pathlib.PurePath": _PATH,
    "pathlib.PurePosixPath": _PATH,
    "pathlib.PureWindowsPath": _PATH,
    "pathlib._local.PosixPath": _PATH,  # Python >= 3.13 pickles paths under this name
    "pathlib._local.WindowsPath": _PATH,
    "pathlib._local.PurePosixPath": _PATH,
    "pathlib._local.PureWindowsPath": _PATH,
    "datetime.datetime": "a date/time value",
    "datetime.date": "a date/time value",
    "datetime.time": "a date/time value",
    "datetime.timedelta": "a date/time value",
    "datetime.timezone": "a date/time value",
    "decimal.Decimal": "a number",
    "fractions.Fraction": "a number",
    "uuid.UUID": "a UUID value",
    "collections.defaultdict": "a dict with a default factory (a global the pickle names)",
    "collections.deque": "a container",
    "collections.ChainMap": "a container",
    # base.__new__(cls, state) and base.__init__(obj, state): both objects the pickle
    # names itself (judged on their own).
    "copyreg._reconstructor": "protocol 0/1 object rebuild (its class arguments are judged)",
    "builtins.dict": "builtin container type",
    "builtins.list": "builtin container type",
    "builtins.tuple": "builtin container type",
    "builtins.frozenset": "builtin container type",
    "builtins.int": "builtin value type",
    "builtins.float": "builtin value type",
    "builtins.str": "builtin value type",
    "builtins.bool": "builtin value type",
    "builtins.bytes": "builtin value type",
    "builtins.slice": "builtin value type",
    "builtins.range": "builtin value type",
    "builtins.object": "builtin base class",
    "typing.Any": "type annotation object",
    "typing.Dict": "type annotation object",
    "typing.List": "type annotation object",
    "typing.Tuple": "type annotation object",
    "typing.Optional": "type annotation object",
    "typing.Union": "type annotation object",
    "omegaconf.dictconfig.DictConfig": f"{_OMEGACONF} container",
    "omegaconf.listconfig.ListConfig": f"{_OMEGACONF} container",
    "omegaconf.base.ContainerMetadata": f"{_OMEGACONF} metadata",
    "omegaconf.base.Metadata": f"{_OMEGACONF} metadata",
    "omegaconf.nodes.AnyNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.StringNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.IntegerNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.FloatNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.BooleanNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.EnumNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.PathNode": f"{_OMEGACONF} value",
    "omegaconf.nodes.BytesNode": f"{_OMEGACONF} value",
    "lightning_fabric.utilities.data.AttributeDict": _LIGHTNING,
    "pytorch_lightning.utilities.parsing.AttributeDict": _LIGHTNING,
    "lightning.fabric.utilities.data.AttributeDict": _LIGHTNING,
    "torch.torch_version.TorchVersion": "torch.__version__ saved as is (a str subclass)",
    "torch.nn.parameter.UninitializedParameter": "a lazy module's placeholder parameter",
    "torch.nn.parameter.UninitializedBuffer": "a lazy module's placeholder buffer",
    "torch._dynamo.decorators._DimRange": "nested jagged tensor metadata (import torch._dynamo)",
    "torch._utils._rebuild_xla_tensor": "old alias of a torch tensor rebuild function",
    "torch._tensor._rebuild_from_type": "old tensor-subclass rebuild function",
    "torch._C.Generator": "random generator state",
    "torch.Generator": "random generator state",
    # DeviceMesh is left out: constructing one initialises a process group (network).
    "torch.distributed.tensor._dtensor_spec.DTensorSpec": "DTensor metadata",
    "torch.distributed.tensor._dtensor_spec.TensorMeta": "DTensor metadata",
    "torch.distributed.tensor.DTensor": "a distributed tensor",
    "torch.distributed.tensor.placement_types.Partial": "DTensor placement",
    "torch.distributed.tensor.placement_types.Replicate": "DTensor placement",
    "torch.distributed.tensor.placement_types.Shard": "DTensor placement",
    "torch.distributed.tensor.placement_types._StridedShard": "DTensor placement",
    "torch.distributed.tensor._dtensor_spec.ShardOrderEntry": "DTensor metadata",
    "torch.distributed._serialization._Entry": "distributed checkpoint entry",
}
# BUILD on instances of these fails in every loader (no __dict__, no __setstate__):
# allowlisting them cannot help.
UNBUILDABLE_MODULES = frozenset({"builtins"})


@cache
def inert_names() -> dict[str, str]:
    """Every inert name: the hand-written entries and the generated lists."""
    raw = json.loads(
        resources.files("torchvet.policy").joinpath("data", "inert-generated.json").read_text()
    )
    out = dict(INERT)
    for name in raw["numpy_dtype_classes"]:
        out[name] = "numpy dtype class, checked when BUILD applies a dtype's state"
    return out


def inert_reason(module: str, name: str) -> str | None:
    """Why ``module.name`` is inert: only ever for exactly a vetted object."""
    if is_attribute_chain(name):
        return None
    return inert_names().get(f"{module}.{name}")


def inert_type_reason(qualname: str) -> str | None:
    """Why a runtime type (named by torchvet's model of a value) is inert."""
    module, _, name = qualname.rpartition(".")
    return inert_reason(module, name) if module else None


# ----------------------------------------------------------------------------- spellings
# Pickles name an object by where it lived when saved; some of those places moved.
_NUMPY_CORE_OLD, _NUMPY_CORE_NEW = "numpy.core.", "numpy._core."
_PATHLIB_LOCAL = "pathlib._local."


def _numpy_major() -> int:
    try:
        return int(version("numpy").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 2


def importable_name(name: str) -> str:
    """The spelling of a pickled ``name`` that imports in this environment (no import)."""
    if name.startswith(_NUMPY_CORE_OLD) and _numpy_major() >= 2:
        return _NUMPY_CORE_NEW + name[len(_NUMPY_CORE_OLD) :]
    if name.startswith(_NUMPY_CORE_NEW) and _numpy_major() < 2:
        return _NUMPY_CORE_OLD + name[len(_NUMPY_CORE_NEW) :]
    if name.startswith(_PATHLIB_LOCAL) and sys.version_info < (3, 13):
        return "pathlib." + name[len(_PATHLIB_LOCAL) :]
    return name


def spellings(name: str) -> list[str]:
    """Every pickled spelling of the object ``name`` names (numpy 1 and 2 files differ)."""
    if name.startswith(_NUMPY_CORE_OLD):
        return [name, _NUMPY_CORE_NEW + name[len(_NUMPY_CORE_OLD) :]]
    if name.startswith(_NUMPY_CORE_NEW):
        return [name, _NUMPY_CORE_OLD + name[len(_NUMPY_CORE_NEW) :]]
    return [name]


# ----------------------------------------------------------------------------- gadgets
# What the derivation (scripts/gen_gadgets.py, shipped as data/gadgets-torch-*.json)
# cannot see: builtins and C modules, opaque objects, code reached through dispatch it
# does not follow, and libraries outside the stdlib, torch and numpy. The sinks the
# derivation stops at (torchvet.policy.sinks) are gadgets too.
_EXEC = "runs arbitrary Python code"
_PROC = "starts processes or runs shell commands"
_FILE = "reads, writes or deletes files"
_NET = "opens network connections"
_NESTED = "loads a nested pickle or checkpoint, running whatever it contains"
_NATIVE = "loads native code or touches raw memory"
_INTERP = "changes interpreter state"
_BLOCKED = "(torch blocks the module)"

GADGETS: list[Entry] = _entries(
    {
        "os.*": f"{_PROC}; {_FILE} {_BLOCKED}",
        "posix.*": f"{_PROC}; {_FILE} {_BLOCKED}",
        "nt.*": f"{_PROC}; {_FILE} {_BLOCKED}",
        "sys.*": f"{_INTERP} {_BLOCKED}",
        "builtins.eval": _EXEC,
        "builtins.exec": _EXEC,
        "builtins.execfile": _EXEC,
        "builtins.compile": f"{_EXEC} (compiles code objects)",
        "builtins.__import__": "imports arbitrary modules",
        "builtins.open": _FILE,
        "builtins.input": "reads from the terminal",
        "builtins.breakpoint": "starts a debugger",
        "builtins.setattr": f"{_INTERP} (monkey-patches objects)",
        "builtins.delattr": f"{_INTERP} (monkey-patches objects)",
        "builtins.exit": "exits the interpreter",
        "builtins.quit": "exits the interpreter",
        "builtins.help": "starts an interactive pager",
        "builtins.globals": f"{_INTERP} (exposes module globals)",
        "builtins.vars": f"{_INTERP} (exposes object namespaces)",
        "builtins.locals": f"{_INTERP} (exposes frames)",
        "types.CodeType": f"{_EXEC} (builds code objects)",
        "types.FunctionType": f"{_EXEC} (builds functions)",
        "types.LambdaType": f"{_EXEC} (builds functions)",
        "types.MethodType": f"{_EXEC} (binds functions)",
        "types.ModuleType": f"{_INTERP} (builds modules)",
        "marshal.*": f"{_EXEC} (loads code objects)",
        "_pickle.*": _NESTED,
        "copyreg.add_extension": f"{_INTERP} (changes how later pickles resolve EXT codes)",
        "_io.*": _FILE,
        "_socket.*": _NET,
        "_posixsubprocess.*": _PROC,
        "_winapi.*": _PROC,
        "_xxsubinterpreters.*": f"{_EXEC} (in a subinterpreter)",
        "_testcapi.*": f"{_NATIVE} (CPython's C test hooks)",
        "_testinternalcapi.*": f"{_NATIVE} (CPython's C test hooks)",
        "_imp.*": f"{_NATIVE} (imports extension modules)",
        "_ctypes.*": _NATIVE,
        "ctypes.*": _NATIVE,  # memmove, string_at, cast: C function pointers, not sources
        "mmap.*": _NATIVE,
        "gc.*": f"{_INTERP} (reaches every live object)",
        "inspect.*": f"{_INTERP} (reaches frames and code)",
        "operator.attrgetter": "reaches arbitrary attributes (getattr chains)",
        "_operator.attrgetter": "reaches arbitrary attributes (getattr chains)",
        "operator.methodcaller": "calls arbitrary methods",
        "_operator.methodcaller": "calls arbitrary methods",
        # exec through the profiler's C hooks, which the derivation does not follow
        "profile.run": f"{_EXEC} (profiles a statement given as text)",
        "profile.runctx": f"{_EXEC} (profiles a statement given as text)",
        "cProfile.run": f"{_EXEC} (profiles a statement given as text)",
        "cProfile.runctx": f"{_EXEC} (profiles a statement given as text)",
        # coroutines whose work is dispatched through the event loop
        "asyncio.create_subprocess_exec": f"{_PROC} (when awaited)",
        "asyncio.create_subprocess_shell": f"{_PROC} (when awaited)",
        "asyncio.subprocess.*": f"{_PROC} (when awaited)",
        "asyncio.base_subprocess.*": _PROC,
        "asyncio.unix_events.*": _PROC,
        "asyncio.windows_events.*": _PROC,
        # outside the derivation's scope (stdlib, torch, numpy)
        "pip.*": f"{_PROC} (installs packages)",
        "_pip.*": f"{_PROC} (installs packages)",
        "setuptools.*": f"{_PROC}; {_EXEC}",
        "cloudpickle.*": f"{_EXEC} (rebuilds functions from code stored by value)",
        "dill.*": f"{_EXEC} (rebuilds functions and code)",
        "joblib.load": _NESTED,
        "joblib.numpy_pickle.load": _NESTED,
        "pandas.read_pickle": _NESTED,
        "pandas.io.pickle.*": _NESTED,
        "pandas.eval": _EXEC,
        "pandas.core.computation.*": _EXEC,
        "yaml.load": _NESTED,
        "yaml.unsafe_load": _NESTED,
        "yaml.full_load": _NESTED,
        "requests.*": _NET,
        "httpx.*": _NET,
        "cffi.*": _NATIVE,
    }
)

# Methods reached through getattr or a dotted name on an object whose class the
# derivation may not know (a path, an array, a tar file) that act on files or processes.
GADGET_METHODS = {
    "write_text": _FILE,
    "write_bytes": _FILE,
    "unlink": _FILE,
    "rmdir": _FILE,
    "touch": _FILE,
    "mkdir": _FILE,
    "rename": _FILE,
    "replace": _FILE,
    "symlink_to": _FILE,
    "hardlink_to": _FILE,
    "chmod": _FILE,
    "extractall": _FILE,
    "tofile": _FILE,
    "dump": f"{_FILE} (pickles to a file)",
    "system": _PROC,
    "popen": _PROC,
}

REFLECTIVE: list[Entry] = _entries(
    {
        "builtins.getattr": "reaches any attribute; protocol 2 also uses it for nested classes "
        "and bound methods. Never allowlist it",
        "builtins.type": "creates classes at load time",
        "builtins.super": "reaches base-class methods",
        "builtins.map": "calls a function over items",
        "builtins.filter": "calls a function over items",
        "builtins.apply": "calls a function",
        "functools.partial": "defers a call to another callable",
        "functools.reduce": "calls a function repeatedly",
        "operator.itemgetter": "reaches items of containers",
        "_operator.itemgetter": "reaches items of containers",
        "operator.getitem": "reaches items of containers (e.g. sys.modules)",
        "_operator.getitem": "reaches items of containers (e.g. sys.modules)",
        "operator.call": "calls a function",
        "_operator.call": "calls a function",
        "copyreg.__newobj__": "creates an instance of its argument",
        "copyreg.__newobj_ex__": "creates an instance of its argument",
        "threading.*": "runs callables on threads",
        "_thread.*": "runs callables on threads",
        "atexit.*": "registers callables to run at exit",
        "signal.*": "registers callables to run on signals",
    }
)


class Catalog:
    """Fast lookup over a list of exact names and ``module.*`` prefixes."""

    def __init__(self, entries: list[Entry]) -> None:
        self.exact: dict[str, str] = {}
        self.prefixes: dict[str, str] = {}
        for e in entries:
            if e.pattern.endswith(".*"):
                self.prefixes[e.pattern[:-2]] = e.reason
            else:
                self.exact[e.pattern] = e.reason

    def match(self, name: str) -> str | None:
        reason = self.exact.get(name)
        if reason is not None:
            return reason
        module = name
        while "." in module:
            module = module.rsplit(".", 1)[0]
            reason = self.prefixes.get(module)
            if reason is not None:
                return reason
        return None


GADGET_CATALOG = Catalog(GADGETS)
REFLECTIVE_CATALOG = Catalog(REFLECTIVE)

# Attributes every object has that only hold its own name or docs.
_NAME_DUNDERS = frozenset({"__name__", "__qualname__", "__doc__", "__module__"})

# torch's ConfigModule objects (torch._dynamo.config, torch.utils.serialization.config, ...)
# expose load_config, which pickle.loads its argument.
_TORCH_CONFIG_LOADER = re.compile(r"^torch\.[\w.]*config\.load_config$")


def gadget_reason(name: str, *, resolved: bool = False) -> str | None:
    """Why ``name`` is a gadget, or None.

    ``resolved`` names were reached at load time through attribute chains (a dotted
    global, ``getattr(torch.serialization, "os").system``): any suffix of such a path
    may be a re-exported gadget, and a dunder attribute on the way
    (``numpy.dtypes.__builtins__.get``, ``__loader__``, ``__globals__``) reaches the
    interpreter's internals, from which every gadget is one step away.
    """
    reason = _known_gadget(name)
    if reason is not None or not resolved:
        return reason
    parts = name.split(".")
    for i in range(1, len(parts)):
        reason = _known_gadget(".".join(parts[i:]))
        if reason is not None:
            return f"{reason} (reached as {name})"
    for part in parts[1:]:
        if is_dunder(part) and part not in _NAME_DUNDERS:
            return f"reaches interpreter internals through {part} (every gadget is one step away)"
    last = parts[-1]
    if last in GADGET_METHODS:
        return GADGET_METHODS[last]
    return None


def _known_gadget(name: str) -> str | None:
    """The hand-written catalog first (it names what derivation cannot see), then the
    derived table of stdlib, torch and numpy names."""
    reason = GADGET_CATALOG.match(name)
    if reason is None and _TORCH_CONFIG_LOADER.match(name):
        # A module whose class install_config_module swaps at import: not derivable.
        reason = f"{_NESTED} (torch config modules' load_config unpickles its argument)"
    return reason if reason is not None else derived_reason(name)


def reflective_reason(name: str) -> str | None:
    """Why ``name`` hands a pickle a way to reach other objects, or None."""
    return REFLECTIVE_CATALOG.match(name)


def allowlisting_hazard(name: str) -> str | None:
    """Why allowlisting ``name`` (``add_safe_globals``) lets a pickle run code: it is a
    gadget or a reflective name, under any name CPython's unpicklers map it to
    (``__builtin__.eval`` is ``builtins.eval``). None if it is neither."""
    module, _, attr = name.rpartition(".")
    names = (
        [name, *(f"{m}.{n}" for m, n in cpython_resolutions(module, attr))] if module else [name]
    )
    for candidate in dict.fromkeys(names):
        reason = gadget_reason(candidate) or reflective_reason(candidate)
        if reason is not None:
            return reason
    return None
