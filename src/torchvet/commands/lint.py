"""``torchvet lint``: argument parsing only; the work is in ``torchvet.lint``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torchvet.commands.options import (
    add_flag,
    add_jobs,
    add_paths,
    add_walk_options,
    describe,
    exit_codes,
    rule_codes,
)

DESCRIPTION = """\
Find (and fix) PyTorch model-loading misuse in Python files, Jupyter notebooks,
Markdown and reStructuredText code blocks, and sphinx-gallery comment blocks.

Output is `path:line:col: CODE message` (`path:cell N:line:col:` for notebooks).
Suppress one finding with `# noqa: TV002` or `# torchvet: ignore[TV002]` on its line.
Settings come from [tool.torchvet] in the nearest pyproject.toml
(select, extend-select, ignore, exclude, per-file-ignores); command-line --select
replaces `select`, --extend-select and --ignore add to theirs.
`torchvet rule CODE` prints a rule's documentation (all rules: docs/rules.md)."""

EPILOG = exit_codes("no findings", "findings (or fixes left to apply with --diff)")


def configure(parser: argparse.ArgumentParser) -> None:
    describe(parser, DESCRIPTION, EPILOG)
    add_paths(parser, "files or folders (default: .); '-' reads stdin")
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github"),
        default="text",
        help="output format (default: text)",
    )
    add_flag(parser, "--fix", help="apply safe fixes in place")
    add_flag(
        parser,
        "--unsafe-fixes",
        help="also apply fixes that may change behaviour (with --fix or --diff)",
    )
    add_flag(parser, "--diff", help="print the fixes as a unified diff instead of writing them")
    parser.add_argument(
        "--select",
        type=rule_codes,
        metavar="CODES",
        help="comma-separated codes or prefixes to check (e.g. TV0,TV101; ALL)",
    )
    parser.add_argument(
        "--extend-select",
        type=rule_codes,
        metavar="CODES",
        default=[],
        help="codes or prefixes to check in addition to `select`",
    )
    parser.add_argument(
        "--ignore",
        type=rule_codes,
        metavar="CODES",
        default=[],
        help="comma-separated codes or prefixes to skip",
    )
    add_flag(
        parser,
        "--add-noqa",
        help="write `# noqa: CODE` on each line with findings, so that they are suppressed",
    )
    add_flag(parser, "--exit-zero", help="exit 0 even when there are findings")
    add_flag(
        parser, "--statistics", help="print the number of findings per rule instead of each finding"
    )
    parser.add_argument(
        "--config", type=Path, metavar="PYPROJECT", help="read settings from this pyproject.toml"
    )
    add_walk_options(parser, "lint files that .gitignore excludes")
    parser.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="name (and so file type) to use for code read from stdin",
    )
    add_jobs(parser)
    add_flag(parser, "-q", "--quiet", help="do not print notes and the summary")
    add_flag(
        parser,
        "-v",
        "--verbose",
        help="also list the code blocks that do not parse (otherwise only counted)",
    )


def run(args: argparse.Namespace) -> int:
    from torchvet.lint.api import LintRequest, UsageError, run_lint
    from torchvet.lint.config import ConfigError, configure
    from torchvet.lint.engine import Options
    from torchvet.report.lint_report import LintOutput, write_run

    options = Options(
        fix=args.fix, unsafe_fixes=args.unsafe_fixes, diff=args.diff, add_noqa=args.add_noqa
    )
    request = LintRequest(
        paths=args.paths,
        jobs=args.jobs,
        respect_gitignore=not args.no_respect_gitignore,
        default_excludes=not args.include_environments,
        stdin_name=args.stdin_filename,
    )
    try:
        config = configure(args.select, args.ignore, args.extend_select, explicit=args.config)
        result = run_lint(request, config, options)
    except (ConfigError, UsageError) as exc:
        sys.stderr.write(f"torchvet lint: error: {exc}\n")
        return 2
    output = LintOutput(args.format, args.statistics, args.quiet, args.verbose)
    write_run(result, options, output, sys.stdout, sys.stderr)
    if args.exit_zero:
        return 0
    return 1 if result.diagnostics or (options.diff and result.diffs) else 0
