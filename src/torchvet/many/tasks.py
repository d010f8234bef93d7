"""The unit of work of ``scan_many``: one file, scanned where the task runs.

A task names its file (a local path or a URL), never carries its bytes: a Dask worker
reads from the store itself, with its own credentials. ``run_task`` never raises, so
one bad file cannot take a run down, and its result does not depend on where it ran.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from torchvet.policy.judge import Policy
from torchvet.remote.options import RemoteOptions
from torchvet.remote.urls import is_url
from torchvet.results import ScanResult


@dataclass(frozen=True)
class ScanSetup:
    """What every task needs besides its file (small: sent with each task)."""

    torch_version: str
    allow: tuple[str, ...] = ()
    remote: RemoteOptions = field(default_factory=RemoteOptions)

    @classmethod
    def of(cls, policy: Policy, remote: RemoteOptions) -> ScanSetup:
        return cls(policy.facts.version, tuple(sorted(policy.user_allow)), remote)


@dataclass(frozen=True)
class ScanTask:
    target: str  # a local path or a URL (hf:// pinned to a commit)
    listed: bool = False  # found by listing a remote folder or repo: only model files count


@lru_cache(maxsize=8)
def _policy(torch_version: str, allow: tuple[str, ...]) -> Policy:
    return Policy.for_torch(torch_version, allow)


def run_task(task: ScanTask, setup: ScanSetup) -> ScanResult | None:
    """Scan one file; None for a listed file that is not a model file."""
    from torchvet.remote.scanning import incomplete

    policy = _policy(setup.torch_version, setup.allow)
    try:
        if is_url(task.target):
            from torchvet.remote.scanning import scan_remote

            return scan_remote(task.target, policy, options=setup.remote, listed=task.listed)
        from torchvet.scan import scan_file

        return scan_file(task.target, policy=policy)
    except Exception as exc:  # e.g. a backend missing on this worker: report, do not lose
        if os.environ.get("TORCHVET_DEBUG"):
            raise
        return incomplete(task.target, f"{type(exc).__name__}: {exc}")


def run_batch(tasks: list[ScanTask], setup: ScanSetup) -> list[ScanResult | None]:
    """Several files in one task: fewer round trips to the scheduler per file."""
    return [run_task(task, setup) for task in tasks]
