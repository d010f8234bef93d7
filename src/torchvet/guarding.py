"""``torchvet.guard``: refuse unsafe globals in every unpickler of the process.

CPython raises the audit event ``pickle.find_class(module, name)`` before any
unpickler (C or Python, so ``pickle``, ``torch.load(weights_only=False)``,
``numpy.load(allow_pickle=True)``, joblib, pandas) resolves a global. A hook added
with ``sys.addaudithook`` raises ``BlockedGlobalError`` there for any name outside
the allowlist, so nothing the name refers to is imported or called.

Allowed: exactly (``torchvet.policy.names.NameRule``, the test the scanner's judge
uses) torch's weights-only allowlist (for the installed torch) plus what ``import
torch`` adds, torchvet's catalog of inert names (numpy arrays, Namespace, OmegaConf,
...), the data classes of pandas and joblib pickles (``GUARD_DATA``), and the user's
``allow``. A name is checked as each CPython unpickler may resolve it (Python 2 names
mapped or not); a dotted name, walked as attributes, is never inert. Known gadgets are
refused even when allowed.

Audit hooks cannot be removed. The hook is added once and does nothing unless a
guard is on: ``guard.install()`` turns it on for the whole process (all threads);
``with guard():`` turns it on for the current context only (a ``ContextVar``: the
thread or asyncio task that entered it), so one thread's scope never leaks into
another's. A scope inside an installed guard uses the scope's allowlist.

The allowlist is about names; what allowed objects then do cannot be seen by name
(BUILD also sets attributes of allowed classes). So while a guarded unpickler's load
runs, the same hook refuses file writes, processes, network use and code compilation
(``torchvet.sideeffects``), except inside the import of a module.

Limits: an unpickler whose ``find_class`` resolves names itself without calling the
base method raises no event (torch's own override does this only for its storage
classes); ``marshal`` and ``exec`` are not pickle and are not covered.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Iterable
from typing import Any

from torchvet import sideeffects
from torchvet.errors import BlockedActionError, BlockedGlobalError
from torchvet.policy.names import NameRule, cpython_resolutions, is_attribute_chain

EVENT = "pickle.find_class"
_MAX_CACHE = 4096

# Classes and rebuild helpers of joblib and pandas pickles: plain data containers, each
# audited like torchvet's inert catalog. joblib's pre-0.10 NDArrayWrapper and
# ZNDArrayWrapper are left out: joblib's unpickler opens the file path they carry
# (np.load(path, allow_pickle=True) / open(path)), so a pickle would choose what to load.
GUARD_DATA = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "pandas.DataFrame",
        "pandas.Series",
        "pandas.Index",
        "pandas.RangeIndex",
        "pandas.MultiIndex",
        "pandas.DatetimeIndex",
        "pandas.TimedeltaIndex",
        "pandas.PeriodIndex",
        "pandas.CategoricalIndex",
        "pandas.Categorical",
        "pandas.CategoricalDtype",
        "pandas.StringDtype",
        "pandas.DatetimeTZDtype",
        "pandas.Timestamp",
        "pandas.Timedelta",
        "pandas.arrays.DatetimeArray",
        "pandas.arrays.TimedeltaArray",
        "pandas.arrays.StringArray",
        "pandas.arrays.BooleanArray",
        "pandas.arrays.IntegerArray",
        "pandas.arrays.FloatingArray",
        "pandas.core.frame.DataFrame",
        "pandas.core.series.Series",
        "pandas.core.indexes.base._new_Index",
        "pandas.core.indexes.base.Index",
        "pandas.core.indexes.range.RangeIndex",
        "pandas.core.internals.managers.BlockManager",
        "pandas.core.internals.managers.SingleBlockManager",
        "pandas._libs.internals._unpickle_block",
        "pandas._libs.arrays.__pyx_unpickle_NDArrayBacked",
        "pandas._libs.tslibs.timestamps._unpickle_timestamp",
        "pandas._libs.tslibs.timedeltas._timedelta_unpickle",
    }
)


class _Policy:
    """One allowlist, compiled; ``check`` is a dict lookup once a name was seen."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        from torchvet.pickle.torchfacts import load_facts
        from torchvet.policy.catalog import inert_names

        facts = load_facts()
        self.allow = frozenset(allow)
        self.rule = NameRule.for_torch(facts, self.allow, frozenset(inert_names()) | GUARD_DATA)
        # (module, name) -> None when allowed, else (reason, is_gadget)
        self._cache: dict[tuple[str, str], tuple[str, bool] | None] = {}
        self._lock = threading.Lock()

    def check(self, module: object, name: object) -> None:
        key = (module, name)
        try:
            verdict = self._cache[key]  # type: ignore[index]
        except (KeyError, TypeError):
            verdict = self._decide(module, name)
        if verdict is not None:
            raise BlockedGlobalError(str(module), str(name), *verdict)

    def _decide(self, module: object, name: object) -> tuple[str, bool] | None:
        if type(module) is not str or type(name) is not str:
            return "the global's module or name is not a string", True
        verdict = None
        # The event carries the name as written; protocols 0-2 map Python 2 names first.
        for m, n in cpython_resolutions(module, name):
            verdict = self._decide_one(m, n)
            if verdict is not None:
                break
        with self._lock:
            if len(self._cache) < _MAX_CACHE:
                self._cache[(module, name)] = verdict
        return verdict

    def _decide_one(self, module: str, name: str) -> tuple[str, bool] | None:
        from torchvet.policy.catalog import gadget_reason

        chain = is_attribute_chain(name)
        reason = gadget_reason(f"{module}.{name}", resolved=chain)
        if reason is not None:
            return reason, True
        if module in self.rule.blocked_modules:
            return f"module {module} is blocked by torch", True
        if self.rule.allows(module, name):
            return None
        if chain:
            return (
                f"{name!r} is an attribute chain walked from module {module} at load time; "
                "only exact names are allowed",
                False,
            )
        return "not in torch's weights-only allowlist nor torchvet's catalog of inert data", False


_scope: contextvars.ContextVar[_Policy | None] = contextvars.ContextVar(
    "torchvet_guard", default=None
)
_installed: _Policy | None = None
_hooked = False
_hook_lock = threading.Lock()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if event == EVENT:
        policy = _scope.get() or _installed
        if policy is not None:
            policy.check(args[0], args[1])
            sideeffects.mark_load(sys._getframe(1))
    elif event in sideeffects.WATCHED:
        if (_scope.get() or _installed) is None and not sideeffects.explicit_active():
            return
        what = sideeffects.side_effect(event, args)
        if what is not None and sideeffects.inside_load(sys._getframe(1)):
            raise BlockedActionError(event, what)


def ensure_hook() -> None:
    """Add the process's audit hook once (torchvet.load needs it too)."""
    _ensure_hook()


def _ensure_hook() -> None:
    global _hooked
    with _hook_lock:
        if not _hooked:
            sys.addaudithook(_hook)
            _hooked = True


class Guard:
    """``with torchvet.guard(allow=[...]):`` refuses unsafe globals in this context."""

    def __init__(self, allow: Iterable[Any] = ()) -> None:
        self.allow = _names(allow)
        self._token: contextvars.Token | None = None

    def __enter__(self) -> Guard:
        _ensure_hook()
        self._token = _scope.set(_Policy(self.allow))
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _scope.reset(self._token)
            self._token = None


def install(allow: Iterable[Any] = ()) -> None:
    """Guard every unpickler in the process from now on (all threads)."""
    global _installed
    _ensure_hook()
    _installed = _Policy(_names(allow))


def run_guarded(program: list[str], module: str | None = None, allow: Iterable[Any] = ()) -> int:
    """Run ``program`` (a script and its arguments), or ``module`` with ``program`` as its
    arguments, as ``__main__`` with the guard installed; the program's exit code.
    BlockedGlobalError propagates when the guard stops it."""
    import os
    import runpy

    install(allow)
    saved = sys.argv[:]
    try:
        if module is not None:
            sys.argv = [module, *program]
            runpy.run_module(module, run_name="__main__", alter_sys=True)
        else:
            sys.argv = program
            sys.path.insert(0, os.path.dirname(os.path.abspath(program[0])))
            runpy.run_path(program[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved
    return 0


def uninstall() -> None:
    """Stop the process-wide guard (the hook stays, inert)."""
    global _installed
    _installed = None


def active() -> bool:
    return (_scope.get() or _installed) is not None


def _names(allow: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for item in allow:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            out.append(item[1])
        else:
            out.append(f"{getattr(item, '__module__', '')}.{getattr(item, '__qualname__', '')}")
    return tuple(out)


class _GuardAPI:
    """``torchvet.guard``: call it for a context manager, or use its process-wide controls.

    ``with torchvet.guard(allow=[...]):`` guards the current thread/task;
    ``torchvet.guard.install()`` guards the whole process until ``uninstall()``.
    """

    Guard = Guard

    def __call__(self, allow: Iterable[Any] = ()) -> Guard:
        return Guard(allow)

    @staticmethod
    def install(allow: Iterable[Any] = ()) -> None:
        install(allow)

    @staticmethod
    def uninstall() -> None:
        uninstall()

    @staticmethod
    def active() -> bool:
        return active()


guard = _GuardAPI()
