"""Red-team cases: one crafted file each, grouped in families (classes of attack).

A family is a function ``(full) -> list[Case]`` registered with ``@family``. Cases are
cheap descriptions (``make`` builds the bytes only when called), so the test module can
parametrize over them at collection time. ``full=False`` is the seeded subset the
test suite runs; ``benchmarks/redteam.py`` runs ``full=True`` (every variant with every
payload).
"""

from __future__ import annotations

import importlib.util
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.redteam.payloads import PAYLOADS


@dataclass(frozen=True)
class Case:
    """One crafted file."""

    id: str  # "family/variant/payload"
    family: str
    klass: int  # the class of issue 8 it tests
    name: str  # file name (torch.load and torchvet read names too)
    make: Callable[[], bytes]
    notes: str = ""
    requires: tuple[str, ...] = ()  # modules the loaders need to read it (zstandard)
    payload: bool = True  # False: a denial-of-service file, nothing to fire
    loaders: tuple[str, ...] | None = None  # None: every loader (see worker.LOADERS)

    @property
    def available(self) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in self.requires)

    def write(self, folder: Path) -> Path:
        path = folder / self.id.replace("/", "--") / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.make())
        return path


@dataclass(frozen=True)
class Family:
    name: str
    klass: int
    title: str
    cases: Callable[[bool], list[Case]]


FAMILIES: dict[str, Family] = {}


def family(name: str, klass: int, title: str) -> Callable:
    """Register ``fn(full) -> Iterable[(variant, payload, file name, make, notes)]``."""

    def register(fn: Callable[[bool], Iterable[tuple]]) -> Callable:
        def cases(full: bool) -> list[Case]:
            out = []
            for variant, payload, fname, make, *rest in fn(full):
                opts = rest[0] if rest else {}
                out.append(
                    Case(
                        id=f"{name}/{variant}/{payload}",
                        family=name,
                        klass=klass,
                        name=fname,
                        make=make,
                        **opts,
                    )
                )
            return out

        FAMILIES[name] = Family(name, klass, title, cases)
        return fn

    return register


def rotate(variants: list, full: bool) -> Iterable[tuple]:
    """(variant, payload) pairs: every payload for each variant when ``full``, else one
    payload chosen by the variant's name, so the seeded subset uses them all and a case's
    id does not change when other variants are added."""
    for variant in variants:
        pick = zlib.crc32(repr(variant).encode()) % len(PAYLOADS)
        for payload in PAYLOADS if full else (PAYLOADS[pick],):
            yield variant, payload


def all_cases(full: bool = False) -> list[Case]:
    _load_families()
    return [case for fam in FAMILIES.values() for case in fam.cases(full)]


def _load_families() -> None:
    # Importing the modules registers their families.
    from tests.redteam import (  # noqa: F401
        fam_archives,
        fam_arrays,
        fam_dos,
        fam_polyglot,
        fam_streams,
        fam_zip,
    )
