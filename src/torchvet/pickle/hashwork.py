"""The work CPython does to hash and insert the keys a pickle controls.

Content torch's weights-only unpickler accepts can still hold a loader for hours:

* keys that all hash alike: ints, floats, complex numbers, bools and tuples of them hash
  the same in every CPython process (only str and bytes are randomised), and n keys that
  share one hash cost n**2/2 comparisons to insert into a dict or set (every int
  ``k * (2**61 - 1) + c`` hashes to ``c``);
* a tuple that shares itself: ``t1 = (t0, t0)``, ``t2 = (t1, t1)``, ... is a few bytes per
  level in a pickle (the memo), but CPython does not cache tuple hashes, so hashing
  ``t64`` visits 2**64 tuples.

This module computes, without building any object from the file, the exact hash CPython
gives such a key (its tuple hash over the items' hashes) and the number of tuples one
hash visits, memoised per tuple so that the model itself stays linear. The machine calls
``insert`` wherever the unpickler inserts keys (SETITEM(S), DICT, set and dict
constructors) and reports a RESOURCE issue past the bounds in ``budget``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torchvet import budget as budgets
from torchvet.pickle.trace import IssueKind
from torchvet.pickle.values import Const, DictValue, Instance, SetValue, TupleValue, Value

if TYPE_CHECKING:
    from torchvet.pickle.models.effects import Effects

# One hash visiting more tuples than this is out of proportion to any file.
MAX_HASH_VISITS = 10_000_000
_HASHED_CONSTS = (int, bool, float, complex)  # hash(x) is the same in every process


class _Hashed:
    """Stands in a tuple for an item whose hash is known: ``hash((_Hashed(a), ...))``
    is CPython's tuple hash over those item hashes."""

    __slots__ = ("h",)

    def __init__(self, h: int) -> None:
        self.h = h

    def __hash__(self) -> int:
        return self.h


class HashWork:
    """Per stream: hashes of keys (memoised per tuple) and comparisons spent inserting."""

    def __init__(self) -> None:
        # id(tuple) -> (the tuple, kept alive so its id stays its own; hash; visits)
        self._tuples: dict[int, tuple[TupleValue, int | None, int]] = {}
        self.comparisons = 0
        self._reported: set[str] = set()

    def measure(self, v: Value) -> tuple[int | None, int]:
        """(CPython's hash of ``v`` when every process agrees on it, else None;
        objects one hash of ``v`` visits)."""
        if isinstance(v, Const):
            value = v.value
            if type(value) in _HASHED_CONSTS and value == value:  # NaN hashes by identity
                return hash(value), 1
            return None, 1
        if isinstance(v, TupleValue):
            return self._tuple(v)
        if isinstance(v, Instance) and v.pytype == "torch.Size" and isinstance(v.info, tuple):
            return hash(v.info), 1 + len(v.info)  # a tuple subclass: hashed like a tuple
        return None, 1

    def _tuple(self, top: TupleValue) -> tuple[int | None, int]:
        """Post-order over the tuples under ``top``, each measured once (iteratively: a
        pickle can nest tuples deeper than Python's recursion limit)."""
        done = self._tuples
        stack = [top]
        while stack:
            node = stack[-1]
            if id(node) in done:
                stack.pop()
                continue
            pending = [x for x in node.items if isinstance(x, TupleValue) and id(x) not in done]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            hashes: list[_Hashed] | None = []
            visits = 1
            for item in node.items:
                h, n = done[id(item)][1:] if isinstance(item, TupleValue) else self.measure(item)
                visits += n
                if h is None or hashes is None:
                    hashes = None
                else:
                    hashes.append(_Hashed(h))
            done[id(node)] = (node, hash(tuple(hashes)) if hashes is not None else None, visits)
        return done[id(top)][1:]

    def insert(self, m: Effects, container: Value, keys: list[Value]) -> None:
        """``keys`` go into ``container`` (a dict or set): count the comparisons CPython
        makes with earlier keys of the same hash, and the cost of hashing each key."""
        if not isinstance(container, (DictValue, SetValue)):
            return
        if len(keys) > 64:
            m.charge(len(keys) >> 1)  # a memoised dict may be copied into any number of dicts
        counts = container.hash_counts
        for key in keys:
            if type(key) is Const:  # the common case, inline
                value = key.value
                if type(value) not in _HASHED_CONSTS or value != value:
                    continue
                h, visits = hash(value), 1
            else:
                h, visits = self.measure(key)
            if visits > MAX_HASH_VISITS:
                self._report(
                    m,
                    "dag",
                    f"a key inserted at offset {m.pos} is a tuple that shares itself: hashing "
                    f"it once visits about {_big(visits)} tuples, so the load never ends",
                )
            if h is None:
                continue
            if counts is None:
                counts = container.hash_counts = {}
            seen = counts.get(h, 0)
            counts[h] = seen + 1
            self.comparisons += seen
        if budgets.disproportionate_comparisons(self.comparisons):
            self._report(
                m,
                "collisions",
                f"keys that all hash alike (ints, floats or tuples hash the same in every "
                f"Python process): inserting them costs about {_big(self.comparisons)} key "
                "comparisons, far out of proportion to the file (a denial of service on "
                "the loader)",
            )

    def _report(self, m: Effects, what: str, message: str) -> None:
        if what not in self._reported:
            self._reported.add(what)
            m.issue(IssueKind.RESOURCE, message)


def _big(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"2**{n.bit_length() - 1}"
