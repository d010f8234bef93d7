"""What ``torchvet scan`` scans: local paths as always, URLs, ``--from-file`` lists and
``--dask`` through ``scan_many`` (with a progress bar on a terminal), and a Hugging Face
cache."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, TextIO

from torchvet.policy.judge import Policy
from torchvet.remote.urls import is_url
from torchvet.report.progress import progress_bar
from torchvet.results import Category, ScanResult


class UsageError(Exception):
    """Bad arguments, a missing extra, an unreachable scheduler: exit code 2."""


@dataclass(frozen=True)
class ScanRequest:
    """What ``torchvet scan`` was asked to scan."""

    paths: Sequence[str] = ()
    from_file: str | None = None  # a list of paths and URLs ('-': stdin)
    dask: str | None = None  # a scheduler address, or local[:N]
    allow_download: bool = False  # whole files from servers that ignore Range
    hf_cache: str | None = None  # a Hugging Face cache ("": the default one)


@contextmanager
def scan_results(
    request: ScanRequest, policy: Policy, skipped: list[str]
) -> Iterator[Iterable[ScanResult]]:
    """The results of a scan, as they come; files left out as not models go to
    ``skipped``. UsageError (before anything is scanned) for bad arguments."""
    targets = _targets(request)
    with ExitStack() as stack:
        results = _results(request, targets, policy, stack, skipped)
        if request.hf_cache is not None:
            from torchvet.hfcache import scan_cache

            repos = _hf_repos(request.hf_cache)
            results = chain(results, scan_cache(repos, policy, skipped))
        yield results


def _targets(request: ScanRequest) -> list[str]:
    """PATH arguments and --from-file lines; UsageError when there are none or one is missing."""
    targets = list(request.paths) + (read_list(request.from_file) if request.from_file else [])
    if not targets and request.hf_cache is None and not request.from_file:
        raise UsageError("give at least one PATH or URL, or --hf-cache")
    missing = [p for p in targets if not is_url(p) and not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    return targets


def _results(
    request: ScanRequest,
    targets: list[str],
    policy: Policy,
    stack: ExitStack,
    skipped: list[str],
) -> Iterable[ScanResult]:
    """Local paths only: scanned here, as always. URLs, lists and --dask: scan_many."""
    from torchvet.scan import scan_paths

    if not wanted(targets, request.dask, request.from_file):
        return scan_paths(request.paths, policy, skipped)
    return stack.enter_context(
        many_results(
            targets,
            policy,
            dask=request.dask,
            allow_download=request.allow_download,
            collect=True,
        )
    )


def _hf_repos(directory: str) -> list[Path]:
    """The cache repos ``--hf-cache [DIR]`` names (the default cache without DIR)."""
    from torchvet.hfcache import cache_repos, default_cache_dir

    root = Path(directory) if directory else default_cache_dir()
    repos = cache_repos(root)
    if repos is None:
        raise UsageError(
            f"{root} is not a Hugging Face cache (expected a hub folder with "
            "models--ORG--NAME folders, an HF_HOME with hub/ inside, or one such repo folder)"
        )
    return repos


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
