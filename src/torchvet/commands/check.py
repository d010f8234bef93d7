"""`torchvet check`: argument parsing, progress and output; the work is in torchvet.check."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from torchvet.commands.options import add_walk_options, rule_codes
from torchvet.commands.progress import progress_bar
from torchvet.remote.urls import is_url

if TYPE_CHECKING:
    from torchvet.check.discovery import CheckPlan
    from torchvet.check.runner import WorkerSetup

DESCRIPTION = """\
The everyday command: lint the code, notebooks and docs under PATH (default: .)
and scan every model file found there, then print one summary. A PATH may also be
a URL (https://, hf://ORG/NAME, s3://bucket/prefix/, ...; needs torchvet[remote]):
its model files are scanned, as `torchvet scan URL` does.

Model files are found by content (a checkpoint named .txt is still found) and by
extension (.pt .pth .pt2 .ptl .bin .ckpt .pkl .pickle .joblib .dill .safetensors
.npy .npz, also behind .gz/.bz2/.xz/.zst/...). A file with a model extension is
reported even when it is not a model (a Git LFS pointer named model.bin).

Folders are walked without .git, virtualenvs, site-packages, node_modules and
caches. .gitignore applies to linting only: gitignored checkpoints are scanned
(--models-respect-gitignore to skip them). Settings: [tool.torchvet] (select,
ignore, exclude, allow) and [tool.torchvet.check] (max-size, exclude-models,
models-respect-gitignore) in pyproject.toml."""
EPILOG = (
    "exit codes: 0 = no lint finding and every model file safe, 1 = anything found "
    "(or a model file not scanned), 2 = usage error, 130 = interrupted (partial summary)"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        default=["."],
        help="files, folders or URLs (default: .)",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="output format"
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="worker processes (default: one per CPU)"
    )
    parser.add_argument(
        "--select", type=rule_codes, metavar="CODES", help="lint rule codes or prefixes to check"
    )
    parser.add_argument(
        "--ignore", type=rule_codes, metavar="CODES", default=[], help="lint rule codes to skip"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="skip files and folders matching this gitignore-style pattern (repeatable)",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="MODULE.NAME",
        help="treat this global as allowlisted when scanning, like "
        "torch.serialization.add_safe_globals (repeatable)",
    )
    parser.add_argument(
        "--torch-version", metavar="X.Y.Z", help="predict this torch release (default: installed)"
    )
    parser.add_argument(
        "--max-size",
        metavar="SIZE",
        help="do not scan model files larger than SIZE (e.g. 500MB, 20GB; default: no limit); "
        "they are reported as not scanned",
    )
    parser.add_argument(
        "--models-respect-gitignore",
        action="store_true",
        help="do not look for model files among gitignored files",
    )
    add_walk_options(parser, "also lint gitignored files")
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="do not print lint notes (text format)"
    )


def run(args: argparse.Namespace) -> int:
    from torchvet.check.settings import SettingsError

    try:
        plan, setup, version = _prepare(args)
    except (SettingsError, ValueError) as exc:
        print(f"torchvet check: error: {exc}", file=sys.stderr)
        return 2

    from torchvet.check.report import as_json, as_sarif, found_nothing, write_notes, write_text
    from torchvet.check.runner import run_check

    try:
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    except OSError as exc:
        print(f"torchvet check: error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 2
    jobs = args.jobs or os.cpu_count() or 1
    try:
        with progress_bar("torchvet check") as display:
            result = run_check(plan, setup, jobs=jobs, display=display)
        urls = [p for p in args.paths if is_url(p)]
        if urls and not result.interrupted:
            from torchvet.check.remote import scan_urls

            scan_urls(result, urls, setup)
        if args.format == "text":
            if not args.quiet:
                write_notes(result, sys.stderr)
            write_text(result, out)
        else:
            doc = as_json(result, version) if args.format == "json" else as_sarif(result)
            json.dump(doc, out, indent=2)
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()
    if result.interrupted:
        return 130
    return 0 if found_nothing(result) else 1


def _prepare(args: argparse.Namespace) -> tuple[CheckPlan, WorkerSetup, str]:
    """Check the arguments and settings; the plan, the worker setup and the torch version."""
    from torchvet.check.discovery import plan_check
    from torchvet.check.runner import WorkerSetup
    from torchvet.check.settings import CheckSettings, parse_size
    from torchvet.config_file import load_scan_allow
    from torchvet.lint.config import ConfigError, load_config
    from torchvet.lint.rules import unknown_codes
    from torchvet.pickle.torchfacts import pick_version

    if args.jobs is not None and args.jobs < 1:
        raise ValueError("--jobs must be at least 1")
    bad = unknown_codes((args.select or []) + args.ignore)
    if bad:
        raise ValueError(f"unknown rule code(s): {', '.join(bad)}")
    local = [p for p in args.paths if not is_url(p)]
    missing = [p for p in local if not os.path.exists(p)]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    _require_backends([p for p in args.paths if is_url(p)])
    try:
        config = load_config()
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    bad = unknown_codes((config.select or []) + config.ignore)
    if bad:
        raise ValueError(f"unknown rule code(s) in {config.source}: {', '.join(bad)}")
    if args.select:
        config.select = args.select
    config.ignore = config.ignore + args.ignore
    config.exclude = config.exclude + args.exclude
    settings = CheckSettings.from_pyproject(config.source)
    if args.max_size is not None:
        settings.max_size = parse_size(args.max_size)
    if args.models_respect_gitignore:
        settings.models_respect_gitignore = True
    version = pick_version(args.torch_version)
    allow = tuple(args.allow) + tuple(load_scan_allow(Path.cwd()))
    plan = plan_check(
        local,
        config,
        settings,
        respect_gitignore=not args.no_respect_gitignore,
        default_excludes=not args.include_environments,
    )
    setup = WorkerSetup(torch_version=version, allow=allow, max_size=settings.max_size)
    return plan, setup, version


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
