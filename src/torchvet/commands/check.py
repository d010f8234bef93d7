"""`torchvet check`: argument parsing, progress and output; the work is in torchvet.check."""

from __future__ import annotations

import argparse
import sys

from torchvet.commands.options import (
    CannotWrite,
    add_allow,
    add_flag,
    add_format,
    add_jobs,
    add_output,
    add_paths,
    add_walk_options,
    describe,
    exit_codes,
    open_output,
    rule_codes,
)

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
EPILOG = exit_codes(
    "no lint finding and every model file safe",
    "anything found (or a model file not scanned)",
    "130 = interrupted (partial summary)",
)


def configure(parser: argparse.ArgumentParser) -> None:
    describe(parser, DESCRIPTION, EPILOG)
    add_paths(parser, "files, folders or URLs (default: .)")
    add_format(parser)
    add_output(parser)
    add_jobs(parser)
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
    add_allow(
        parser,
        "treat this global as allowlisted when scanning, like "
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
    add_flag(
        parser,
        "--models-respect-gitignore",
        help="do not look for model files among gitignored files",
    )
    add_walk_options(parser, "also lint gitignored files")
    add_flag(parser, "-q", "--quiet", help="do not print lint notes (text format)")


def run(args: argparse.Namespace) -> int:
    from torchvet.check.api import CheckRequest, prepare_check, run_prepared
    from torchvet.report.check_report import found_nothing, write_report
    from torchvet.report.progress import progress_bar

    request = CheckRequest(
        paths=args.paths,
        select=args.select,
        ignore=args.ignore,
        exclude=args.exclude,
        allow=args.allow,
        torch_version=args.torch_version,
        max_size=args.max_size,
        models_respect_gitignore=args.models_respect_gitignore,
        respect_gitignore=not args.no_respect_gitignore,
        include_environments=args.include_environments,
        jobs=args.jobs,
    )
    try:
        prepared = prepare_check(request)
        output = open_output(args.output)
    except (ValueError, CannotWrite) as exc:
        print(f"torchvet check: error: {exc}", file=sys.stderr)
        return 2
    with output as out:
        with progress_bar("torchvet check") as display:
            result = run_prepared(prepared, display)
        write_report(result, out, sys.stderr, args.format, prepared.torch_version, args.quiet)
    if result.interrupted:
        return 130
    return 0 if found_nothing(result) else 1
