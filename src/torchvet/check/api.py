"""``torchvet check`` as a library: validate a request into a plan, then run it.

``prepare_check`` reads the settings (``[tool.torchvet]`` and ``[tool.torchvet.check]``
under the command line's), checks the paths and the rule codes, and walks the folders;
``run_prepared`` lints and scans the plan on worker processes, then the URLs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torchvet.check.discovery import CheckPlan, plan_check
from torchvet.check.runner import CheckRun, Display, WorkerSetup, run_check
from torchvet.check.settings import CheckSettings, parse_size
from torchvet.remote.urls import is_url


@dataclass(frozen=True)
class CheckRequest:
    """What ``torchvet check`` was asked to do."""

    paths: Sequence[str] = (".",)
    select: list[str] | None = None  # lint rule codes (replace pyproject's `select`)
    ignore: Sequence[str] = ()
    exclude: Sequence[str] = ()
    allow: Sequence[str] = ()  # globals treated as allowlisted when scanning
    torch_version: str | None = None
    max_size: str | None = None  # "20GB"; None: pyproject's, else no limit
    models_respect_gitignore: bool = False
    respect_gitignore: bool = True  # for linting
    include_environments: bool = False
    jobs: int | None = None  # worker processes (None: one per CPU)


@dataclass
class PreparedCheck:
    plan: CheckPlan
    setup: WorkerSetup
    torch_version: str  # the torch release the scans predict
    urls: list[str] = field(default_factory=list)
    jobs: int = 1


def prepare_check(request: CheckRequest) -> PreparedCheck:
    """The plan of a check; ValueError (its message for the user) for bad arguments."""
    from torchvet.config_file import load_scan_allow
    from torchvet.lint.config import ConfigError, configure
    from torchvet.pickle.torchfacts import pick_version

    if request.jobs is not None and request.jobs < 1:
        raise ValueError("--jobs must be at least 1")
    try:
        config = configure(request.select, request.ignore, exclude=request.exclude)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    local = [p for p in request.paths if not is_url(p)]
    missing = [p for p in local if not os.path.exists(p)]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    urls = [p for p in request.paths if is_url(p)]
    _require_backends(urls)
    settings = CheckSettings.from_pyproject(config.source)
    if request.max_size is not None:
        settings.max_size = parse_size(request.max_size)
    if request.models_respect_gitignore:
        settings.models_respect_gitignore = True
    version = pick_version(request.torch_version)
    allow = tuple(request.allow) + tuple(load_scan_allow(Path.cwd()))
    plan = plan_check(
        local,
        config,
        settings,
        respect_gitignore=request.respect_gitignore,
        default_excludes=not request.include_environments,
    )
    setup = WorkerSetup(torch_version=version, allow=allow, max_size=settings.max_size)
    return PreparedCheck(plan, setup, version, urls, request.jobs or os.cpu_count() or 1)


def _require_backends(urls: list[str]) -> None:
    """A missing extra is a usage error, said once, before anything runs."""
    if not urls:
        return
    from torchvet.remote.errors import MissingExtra
    from torchvet.remote.stores import require_backend

    try:
        for url in dict.fromkeys(urls):
            require_backend(url)
    except MissingExtra as exc:
        raise ValueError(str(exc)) from None


def run_prepared(prepared: PreparedCheck, display: Display | None = None) -> CheckRun:
    """Lint and scan the plan (``display`` shows the progress, and is stopped before
    the URLs are scanned), then scan the model files under the URLs."""
    run = run_check(prepared.plan, prepared.setup, jobs=prepared.jobs, display=display)
    if display is not None:
        display.stop()
    if prepared.urls and not run.interrupted:
        from torchvet.check.remote import scan_urls

        scan_urls(run, prepared.urls, prepared.setup)
    return run
