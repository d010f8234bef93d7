"""Exact names: the one test of whether a pickled global is exactly an allowed object.

CPython resolves GLOBAL ``module name`` by importing ``module`` and, from protocol 4 on,
walking ``name`` as an attribute path (``a.b.c``); torch's weights-only unpickler looks
``module + "." + name`` up as one exact key. A global is allowed only when it is exactly
a vetted object: never by prefix, never through a dunder attribute, and (for names
vetted as "module + one attribute") never through an attribute chain. The scanner's
judge and ``torchvet.guard`` both ask :meth:`NameRule.allows`.
"""

from __future__ import annotations

import _compat_pickle
import importlib.util
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchvet.pickle.torchfacts import TorchFacts

# Parts of a dotted name that CPython refuses to walk or that lead into the interpreter.
_FORBIDDEN_PARTS = frozenset({"", "<locals>"})


def is_dunder(part: str) -> bool:
    return len(part) > 4 and part.startswith("__") and part.endswith("__")


def is_attribute_chain(name: str) -> bool:
    """``name`` walks attributes at load time (dotted) or reaches a dunder attribute."""
    parts = name.split(".")
    return len(parts) > 1 or any(is_dunder(p) or p in _FORBIDDEN_PARTS for p in parts)


@dataclass(frozen=True)
class NameRule:
    """Which ``(module, name)`` pairs are exactly allowed.

    ``keyed``: names resolved as exact keys whatever the module/name split (torch's own
    allowlist, what ``import torch`` adds, the user's allowlist): torch looks them up
    by key, and CPython's attribute walk over any split of torch's keys reaches the same
    object (checked by a test). ``plain``: vetted as ``module`` + one attribute only
    (torchvet's inert catalog, the guard's data classes).
    """

    keyed: frozenset[str]
    plain: frozenset[str] = frozenset()
    blocked_modules: frozenset[str] = frozenset()

    @classmethod
    def for_torch(
        cls, facts: TorchFacts, allow: Iterable[str] = (), plain: Iterable[str] = ()
    ) -> NameRule:
        """torch's allowlist for one release, what ``import torch`` adds to it, and the
        user's ``allow``, all keyed; ``plain`` names vetted as module + one attribute."""
        keyed = frozenset(facts.allowed) | facts.user_allowed_after_import | frozenset(allow)
        return cls(keyed, frozenset(plain), facts.blocked_modules)

    def allows(self, module: str, name: str) -> bool:
        if module in self.blocked_modules:
            return False
        parts = name.split(".")
        if any(is_dunder(p) or p in _FORBIDDEN_PARTS for p in parts):
            return False
        qual = f"{module}.{name}"
        if qual in self.keyed:
            return True
        return len(parts) == 1 and qual in self.plain

    def allows_type(self, qualname: str) -> bool:
        """A runtime type (BUILD target), named by torchvet's model of the value."""
        return qualname in self.keyed


def cpython_resolutions(module: str, name: str) -> list[tuple[str, str]]:
    """The ``(module, name)`` pairs CPython's unpicklers may import for a raw global.

    Protocols 0-2 map Python 2 names (``_compat_pickle``, a superset of torch's
    mapping); protocol 3+ imports the raw name. A raw name whose module exists only in
    Python 2 (``__builtin__``) cannot be imported and is left out.
    """
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is None:
        mapped = (_compat_pickle.IMPORT_MAPPING.get(module, module), name)
    if mapped == (module, name):
        return [(module, name)]
    out = [mapped]
    if _importable(module):
        out.append((module, name))
    return out


@lru_cache(maxsize=256)
def _importable(module: str) -> bool:
    """Whether a Python-2 module name could be imported here (finds, never imports)."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return True  # cannot tell: assume it can
