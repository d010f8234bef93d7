"""``scan_many``: the per-file scan mapped over files, folders, URLs, bucket prefixes and
Hugging Face repos, on this machine or on a Dask cluster, with the same results.

Sources are expanded first, in order: a local folder into its files (sorted, as
``torchvet scan`` walks it), a remote prefix or repo into its listing (sorted), where
only model files count (by extension, else by a content probe run with the scan).
Then each file is one task. Results come back in that order whichever runner is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from torchvet.many.tasks import ScanSetup, ScanTask
from torchvet.policy.judge import Policy
from torchvet.remote.errors import RemoteError
from torchvet.remote.options import RemoteOptions
from torchvet.remote.urls import is_url
from torchvet.results import ScanResult

REMOTE_THREADS = 8  # concurrent remote files on this machine (they mostly wait)

__all__ = ["Progress", "ScanSetup", "ScanTask", "plan", "scan_many"]


class Progress(Protocol):
    def start(self, total: int) -> None: ...

    def advance(self, files: int) -> None: ...


Item = ScanTask | ScanResult  # a file to scan, or a source that failed to expand


def plan(sources: Iterable[str | os.PathLike[str]], options: RemoteOptions) -> list[Item]:
    """Every file the sources name, in order. A remote source that cannot be listed
    becomes its ``unreadable`` result. Raises MissingExtra for a missing backend."""
    from torchvet.remote.scanning import unreadable
    from torchvet.remote.stores import list_files, require_backend
    from torchvet.scan import iter_files

    items: list[Item] = []
    for source in sources:
        name = os.fspath(source)
        if not is_url(name):
            items.extend(ScanTask(path) for path in iter_files([name]))
            continue
        require_backend(name)
        try:
            files = list_files(name, options)
        except RemoteError as exc:
            items.append(unreadable(name, str(exc)))
            continue
        items.extend(ScanTask(f.url, f.listed) for f in files)
    return items


def scan_many(
    sources: Iterable[str | os.PathLike[str]],
    client: Any = None,
    *,
    policy: Policy | None = None,
    allow: Iterable[str] = (),
    torch_version: str | None = None,
    allow_download: bool = False,
    threads: int | None = None,
    progress: Progress | None = None,
) -> Iterator[ScanResult]:
    """Scan every file that ``sources`` name (paths, folders, URLs, prefixes, hf:// repos).

    ``client``: a ``distributed.Client``; each file becomes a task on its cluster and
    workers read the files themselves. Without one, files are scanned here
    (``threads`` at a time for remote files, default 8; local files one by one).
    Results come in the same order either way. Never raises for bad input (unreadable
    files are results); raises MissingExtra when a URL's backend is not installed.
    """
    if isinstance(sources, str | os.PathLike):
        sources = [sources]
    policy = policy or Policy.for_torch(torch_version, tuple(allow))
    setup = ScanSetup.of(policy, RemoteOptions(allow_download=allow_download))
    items = plan(sources, setup.remote)
    tasks = [item for item in items if isinstance(item, ScanTask)]
    if progress is not None:
        progress.start(len(items))

    def done() -> None:
        if progress is not None:
            progress.advance(1)

    if client is not None:
        from torchvet.many.cluster import run_on_dask

        outcomes = run_on_dask(tasks, setup, client, done)
    else:
        from torchvet.many.local import run_here

        remote = any(is_url(t.target) for t in tasks)
        count = threads or (REMOTE_THREADS if remote else 1)
        outcomes = run_here(tasks, setup, count, done)
    try:
        for item in items:
            if isinstance(item, ScanResult):
                done()
                yield item
            elif (result := next(outcomes)) is not None:
                yield result
    finally:
        outcomes.close()
