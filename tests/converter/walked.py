"""A checkpoint written by torch, taken through the converter's own first steps: opened
(scanned), walked (tensors named), planned (bytes located). Nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from torchvet.containers.base import ScanContext
from torchvet.converter.inputs import Opened, open_input
from torchvet.converter.plan import Plans, plan
from torchvet.converter.walk import Walk, Walker
from torchvet.policy.judge import Policy


@dataclass
class Walked:
    opened: Opened
    walk: Walk
    plans: Plans


@contextmanager
def walked(path: Path, rename: Callable[[str], str] = lambda name: name) -> Iterator[Walked]:
    policy = Policy.for_torch()
    with ExitStack() as stack:
        opened = open_input(str(path), ScanContext(policy, path=str(path)), stack)
        walker = Walker(frozenset(policy.facts.dtypes), opened.arrays)
        walker.walk(opened.root, "")
        yield Walked(opened, walker.out, plan(walker.out.tensors, opened.resolver, rename))
