"""The differential oracle: CPython's two unpicklers against torchvet's reading.

Each stream is loaded, repeatedly (``pickle.load`` in a loop, as a loader of
concatenated pickles does), by ``_pickle.Unpickler`` over a buffered file (resumes right
after STOP) and over ``BytesIO`` (resumes after the frame holding STOP), and by the
pure-Python ``pickle._Unpickler`` (joblib, pandas' fallback). ``find_class`` records every
``(module, name)`` it is asked for and then either refuses (raises, as a guard would) or
returns ``Stub``, an inert class, so that later globals are reached. Nothing real is ever
imported or called: the stub and the builtin containers are all a stream can reach
(the copyreg extension registry is empty, ``persistent_load`` refuses as pickle's does).
Run it in a process with an address-space limit: CPython allocates what BYTEARRAY8 and
LONG_BINPUT declare before reading.

Checked for every stream:
* ``missing``: a global some unpickler asked for is not among torchvet's GLOBAL records;
* ``safe``: such a global, under the name CPython resolves, is not in torch's allowlist,
  yet torchvet's findings for the stream are all SAFE;
* ``stops-early``: an unpickler finished a pickle at an offset where no pickle torchvet
  read ended (torchvet stopped reading earlier, or resumed elsewhere);
* ``crash``: torchvet raised.
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import pickle
import sys
import warnings
import zipfile
from dataclasses import dataclass, field

from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.rawpickle import MAX_STREAMS, scan_pickle_streams
from torchvet.pickle.naming import pickle_reading
from torchvet.policy.judge import Policy
from torchvet.policy.verdict import judge_observations
from torchvet.results import Verdict, worst

POLICY = Policy.for_torch("2.13.0")
CTX = ScanContext(POLICY)
# Python 2 module names fix_imports maps: importable in Python 3 only through the map.
_PY2_ONLY = frozenset(
    m.split(".")[0]
    for m in [*_compat_pickle.IMPORT_MAPPING, *(k[0] for k in _compat_pickle.NAME_MAPPING)]
) - frozenset(sys.stdlib_module_names)


class Refused(Exception):
    pass


class _ReadOnlyType(type):
    """BUILD's slot state may setattr on the class itself: keep it unchanged."""

    def __setattr__(cls, key: str, value: object) -> None:
        raise AttributeError("the stub class is read-only")

    def __delattr__(cls, key: str) -> None:
        raise AttributeError("the stub class is read-only")


class Stub(metaclass=_ReadOnlyType):
    """What every global resolves to in stub mode: constructible, callable, buildable,
    appendable and item-settable, doing nothing."""

    def __new__(cls, *args: object, **kwargs: object) -> Stub:
        # NEWOBJ calls cls.__new__(cls): cls may be a stub instance (a REDUCE result).
        return object.__new__(cls if isinstance(cls, type) else Stub)

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def __call__(self, *args: object, **kwargs: object) -> Stub:
        return Stub()

    def __setstate__(self, *state: object) -> None:
        pass

    def append(self, *items: object) -> None:
        pass

    extend = add = append

    def __setitem__(self, key: object, value: object) -> None:
        pass


CONTAINERS: dict[tuple[str, str], type] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "Counter"): collections.Counter,
    ("collections", "defaultdict"): collections.defaultdict,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "tuple"): tuple,
}


def _fixed_name(module: str, name: str) -> tuple[str, str]:
    """The name pickle's own find_class would look up: Python 2 names are mapped below
    protocol 3 (the C unpickler does not expose its protocol; a Python 2 module name
    imports nothing in Python 3 anyway, so mapping it always is equivalent here)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _recorder(base: type) -> type:
    class Recorder(base):  # type: ignore[misc, valid-type]
        def __init__(self, file: io.IOBase, log: list, stub: bool, encoding: str) -> None:
            super().__init__(file, encoding=encoding)
            self.log = log
            self.stub = stub

        def find_class(self, module: str, name: str) -> type:
            self.log.append((module, name, getattr(self, "proto", None)))
            if self.stub:
                # The containers torchvet models as containers are given as themselves
                # (an OrderedDict is not callable; a stub would be): inert all the same.
                return CONTAINERS.get(_fixed_name(module, name), Stub)
            raise Refused(f"{module}.{name}")

        def persistent_load(self, pid: object) -> object:
            # pickle.load, joblib, numpy and pandas define no persistent_load: the base
            # one raises, and so does every plain reading. (torch's own persistent ids
            # are read by the container readers, with torch's persistent_load modelled.)
            raise pickle.UnpicklingError("persistent id refused")

    return Recorder


C_UNPICKLER = _recorder(pickle.Unpickler)
PY_UNPICKLER = _recorder(pickle._Unpickler)  # type: ignore[attr-defined]


def _file(data: bytes, kind: str) -> io.IOBase:
    """The file object a loader hands its unpickler: BytesIO (no peek(): torch's zip
    reader), a BufferedReader (open(); 8 or 4 KiB blocks) or a zip member (numpy .npz)."""
    if kind == "BytesIO":
        return io.BytesIO(data)
    if kind.startswith("file"):
        size = 4096 if kind == "file4k" else io.DEFAULT_BUFFER_SIZE
        return io.BufferedReader(io.BytesIO(data), buffer_size=size)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data.pkl", data)
    return zipfile.ZipFile(archive).open("data.pkl")


# (name, unpickler class, file kind, stub mode, encoding)
MODES = (
    ("C/file/stub", C_UNPICKLER, "file", True, "utf-8"),
    ("C/file4k/stub", C_UNPICKLER, "file4k", True, "utf-8"),
    ("C/BytesIO/stub", C_UNPICKLER, "BytesIO", True, "utf-8"),
    ("C/zip/stub", C_UNPICKLER, "zip", True, "utf-8"),
    ("Py/stub", PY_UNPICKLER, "BytesIO", True, "utf-8"),
    ("C/file/refuse", C_UNPICKLER, "file", False, "ASCII"),
    ("Py/refuse", PY_UNPICKLER, "BytesIO", False, "ASCII"),
)


@dataclass
class LoaderRun:
    mode: str
    globals: list[tuple[str, str, int | None]] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)  # file offset after each pickle loaded


def run_loader(data: bytes, mode: tuple) -> LoaderRun:
    name, cls, kind, stub, encoding = mode
    run = LoaderRun(name)
    f = _file(data, kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(MAX_STREAMS):
            try:
                cls(f, run.globals, stub, encoding).load()
            except Exception:
                break
            run.ends.append(f.tell())
            if f.tell() >= len(data):
                break
    return run


@dataclass
class Divergence:
    kind: str
    detail: str


@dataclass
class TorchvetView:
    raws: set[tuple[str, str]]  # every (module, name) a GLOBAL/INST/STACK_GLOBAL named
    ends: set[int]  # where a pickle ended: after STOP, or at the end of its frame
    verdict: Verdict  # the worst finding of the streams' judgements
    alternates: int  # readings of the C unpickler over file objects that were run


def torchvet_view(data: bytes) -> TorchvetView:
    scan = ContainerScan("pickle")
    scan_pickle_streams(data, CTX, scan, entry="")
    traces = scan.streams + scan.alternates
    raws = {g.raw for t in traces for g in t.globals()}
    ends = set()
    for t in traces:
        if t.stopped:
            ends.add(t.end)
            if t.frame_end is not None:
                ends.add(max(t.end, t.frame_end))
    verdict = worst(f.verdict for f in judge_observations(scan.observations, CTX.policy).findings)
    return TorchvetView(raws, ends, verdict, len(scan.alternates))


def resolved_names(module: str, name: str, proto: int | None) -> set[str]:
    """What CPython looks up for (module, name): its fix_imports reading at the
    protocol in force (both readings when unknown), left out when its module exists
    only in Python 2, plus torch's own mapping."""
    readings = {
        pickle_reading(module, name, p) for p in ((proto,) if proto is not None else (0, 3))
    }
    readings = {r for r in readings if r[0].split(".")[0] not in _PY2_ONLY}
    readings.add(CTX.naming.map(module, name))
    return {f"{m}.{n}" for m, n in readings}


def check(data: bytes) -> list[Divergence]:
    """Every divergence between CPython's unpicklers and torchvet on ``data``."""
    runs = [run_loader(data, mode) for mode in MODES]
    try:
        view = torchvet_view(data)
    except Exception as exc:  # TORCHVET_DEBUG surfaces internal errors
        return [Divergence("crash", f"{type(exc).__name__}: {exc}")]
    return check_runs(runs, view)


def check_runs(runs: list[LoaderRun], view: TorchvetView) -> list[Divergence]:
    out: list[Divergence] = []
    for run in runs:
        for module, name, proto in run.globals:
            if (module, name) not in view.raws:
                out.append(Divergence("missing", f"{run.mode} resolves {module!r}.{name!r}"))
            elif view.verdict is Verdict.SAFE:
                refused = [n for n in resolved_names(module, name, proto) if not POLICY.allowed(n)]
                if refused:
                    out.append(Divergence("safe", f"{run.mode} resolves {refused}"))
        for end in run.ends:
            if end not in view.ends:
                out.append(Divergence("stops-early", f"{run.mode} ends a pickle at {end}"))
    return out
