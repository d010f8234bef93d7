"""What ``torchvet scan`` does with URLs, ``--from-file`` and ``--dask``: the same scan,
mapped by ``scan_many``, with a progress bar on a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TextIO

from torchvet.commands.progress import progress_bar
from torchvet.policy.judge import Policy
from torchvet.remote.urls import is_url
from torchvet.results import Category, ScanResult


class UsageError(Exception):
    """Bad arguments, a missing extra, an unreachable scheduler: exit code 2."""


def read_list(source: str) -> list[str]:
    """Paths and URLs, one per line ('-': standard input); blank lines and # comments skipped."""
    try:
        if source == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(source, encoding="utf-8") as f:
                lines = f.read().splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def wanted(targets: Iterable[str], dask: str | None, from_file: str | None) -> bool:
    return bool(dask or from_file or any(is_url(t) for t in targets))


@contextmanager
def many_results(
    targets: list[str], policy: Policy, *, dask: str | None, allow_download: bool, collect: bool
) -> Iterator[Iterable[ScanResult]]:
    """Results for ``targets``. ``collect``: gather them all before handing them over
    (while a progress bar is drawn on stderr, nothing else may write to the terminal)."""
    from torchvet.many import scan_many
    from torchvet.remote.errors import MissingExtra
    from torchvet.remote.stores import require_backend

    with ExitStack() as stack:
        try:
            for url in dict.fromkeys(t for t in targets if is_url(t)):
                require_backend(url)
            client = stack.enter_context(_client(dask)) if dask else None
        except (MissingExtra, ConnectionError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        display = stack.enter_context(progress_bar("torchvet scan", enabled=collect))
        results: Iterable[ScanResult] = _warn_downloads(
            scan_many(
                targets,
                client,
                policy=policy,
                allow_download=allow_download,
                progress=display,
            ),
            sys.stderr,
        )
        if display is not None:
            results = list(results)
            display.stop()
        yield results


def _client(spec: str) -> Any:
    from torchvet.many.cluster import dask_client

    return dask_client(spec)


def _warn_downloads(results: Iterable[ScanResult], err: TextIO) -> Iterator[ScanResult]:
    from torchvet.remote.scanning import DOWNLOADED

    prefix = DOWNLOADED.split("{")[0]
    for result in results:
        if any(
            f.category is Category.NOTE and f.message.startswith(prefix) for f in result.findings
        ):
            print(
                f"torchvet scan: warning: {result.path}: the server does not support range "
                f"requests; all {result.size} bytes were downloaded",
                file=err,
            )
        yield result
