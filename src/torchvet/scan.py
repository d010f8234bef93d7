"""Scan model files: read them every way a loader could, judge, conclude.

``scan_source`` is a pure function of (bytes, policy). ``scan_file`` and ``scan_paths``
add the file system: directories are walked, and a file that cannot be read becomes
a ``malformed`` result instead of stopping the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from torchvet.budget import Budget, spending
from torchvet.containers.base import ContainerScan, ScanContext
from torchvet.containers.dispatch import guarded, scan_container
from torchvet.observations import Seen
from torchvet.policy.judge import Policy
from torchvet.policy.verdict import conclude, unreadable
from torchvet.remote.urls import is_url
from torchvet.results import ScanResult
from torchvet.skipdirs import TOOL_DIRS
from torchvet.source import ByteSource, BytesSource, FileSource

__all__ = ["iter_files", "scan_bytes", "scan_container", "scan_file", "scan_paths", "scan_source"]


def scan_source(
    src: ByteSource, policy: Policy | None = None, path: str | None = None
) -> ScanResult:
    ctx = ScanContext(policy or Policy.for_torch(), path=path or src.name)
    return _scan_with(src, ctx)


def _scan_with(src: ByteSource, ctx: ScanContext) -> ScanResult:
    budget = Budget.for_input(src.size)  # one per file: every reading of it spends from it
    with spending(budget):
        scan = guarded("torchvet", src, ctx, _read)
    for note in budget.notes:
        scan.observe(Seen.LIMIT, note)
    return conclude(ctx.path, scan.format, scan.observations, src.size, ctx.policy)


def _read(src: ByteSource, ctx: ScanContext) -> ContainerScan:
    """A torch.distributed.checkpoint file (its metadata known by content, a shard by the
    .metadata beside it) is read as DCP reads it, around the dispatcher; any other file
    goes straight to the dispatcher."""
    from torchvet.containers.dcp import scan_dcp

    return scan_dcp(src, ctx) or scan_container(src, ctx)


def scan_bytes(data: bytes, policy: Policy | None = None, name: str = "<bytes>") -> ScanResult:
    return scan_source(BytesSource(data, name), policy, name)


def scan_file(
    path: str | os.PathLike[str],
    *,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
    policy: Policy | None = None,
) -> ScanResult:
    """Scan one file. Never raises for bad input: unreadable files are ``malformed``."""
    policy = policy or Policy.for_torch(torch_version, tuple(allow))
    name = os.fspath(path)
    if is_url(name):  # http(s)://, hf://, s3://, any fsspec URL: range reads (torchvet[remote])
        from torchvet.remote.scanning import scan_url

        return scan_url(name, policy)
    try:
        with FileSource(name) as src:
            return _scan_with(src, ScanContext(policy, path=name))
    except OSError as exc:
        return unreadable(name, exc.strerror or str(exc))


def iter_files(
    paths: Iterable[str | os.PathLike[str]], skipped: list[str] | None = None
) -> Iterator[str]:
    """Files named directly, and the model files under named directories (sorted, no
    symlink loops). A file in a directory that is not a model file by name or content
    (``config.json``, a README) is left out, and appended to ``skipped`` when given."""
    from torchvet.check.detect import model_reason  # detection by content, as check uses

    for p in paths:
        path = Path(p)
        if not path.is_dir():
            yield os.fspath(path)
            continue
        seen: set[tuple[int, int]] = set()
        for root, dirs, files in os.walk(path, followlinks=False):
            st = os.stat(root)
            if (st.st_dev, st.st_ino) in seen:
                dirs[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirs[:] = sorted(d for d in dirs if d not in TOOL_DIRS)
            for f in sorted(files):
                full = os.path.join(root, f)
                if not os.path.isfile(full):
                    continue
                if model_reason(full) is not None:
                    yield full
                elif skipped is not None:
                    skipped.append(full)


def scan_paths(
    paths: Iterable[str | os.PathLike[str]],
    policy: Policy | None = None,
    skipped: list[str] | None = None,
) -> Iterator[ScanResult]:
    policy = policy or Policy.for_torch()
    for name in iter_files(paths, skipped):
        yield scan_file(name, policy=policy)
