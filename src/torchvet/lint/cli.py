"""What ``torchvet lint`` does with its parsed arguments: run, print, choose the exit code."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TextIO

from torchvet.lint import report
from torchvet.lint.api import LintRun, lint_paths
from torchvet.lint.config import Config, ConfigError, load_config, selected
from torchvet.lint.discover import WalkStats
from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import select_rules, unknown_codes

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _usage(err: TextIO, message: str) -> int:
    err.write(f"torchvet lint: error: {message}\n")
    return EXIT_USAGE


def _lint_stdin(args: argparse.Namespace, config, options: Options) -> tuple[LintRun, str | None]:
    name = args.stdin_filename or "-"
    text = sys.stdin.read()
    rules = select_rules(selected(config), config.ignore)
    kind = None if args.stdin_filename else "python"
    outcome = lint_file_text(name, text, rules, options, kind)
    run = LintRun(
        files=1,
        diagnostics=outcome.diagnostics,
        notes=outcome.notes,
        fixed=outcome.fixed,
        noqa_added=outcome.noqa_added,
    )
    if outcome.diff:
        run.diffs.append(outcome.diff)
    fixed_text = outcome.new_text if outcome.new_text is not None else text
    return run, fixed_text if (args.fix or args.add_noqa) else None


def _configure(args: argparse.Namespace, err: TextIO) -> Config | int:
    """The settings for this run: pyproject's, then the command line's on top."""
    bad = unknown_codes((args.select or []) + args.extend_select + args.ignore)
    if bad:
        return _usage(err, f"unknown rule code(s): {', '.join(bad)}")
    try:
        config = load_config(explicit=args.config)
    except ConfigError as exc:
        return _usage(err, str(exc))
    bad = unknown_codes((config.select or []) + config.extend_select + config.ignore)
    if bad:
        return _usage(err, f"unknown rule code(s) in {config.source}: {', '.join(bad)}")
    if args.select:
        config.select = args.select
    config.extend_select = config.extend_select + args.extend_select
    config.ignore = config.ignore + args.ignore
    return config


def main(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = _configure(args, err)
    if isinstance(config, int):
        return config
    if args.jobs is not None and args.jobs < 1:
        return _usage(err, "--jobs must be at least 1")
    if args.add_noqa and (args.fix or args.diff):
        return _usage(err, "--add-noqa cannot be combined with --fix or --diff")
    options = Options(
        fix=args.fix, unsafe_fixes=args.unsafe_fixes, diff=args.diff, add_noqa=args.add_noqa
    )
    fixed_stdin = None
    if args.paths == ["-"]:
        run, fixed_stdin = _lint_stdin(args, config, options)
    else:
        missing = [p for p in args.paths if p != "-" and not os.path.exists(p)]
        if missing:
            return _usage(err, f"no such file or folder: {', '.join(missing)}")
        run = lint_paths(
            args.paths,
            config,
            options,
            jobs=args.jobs,
            respect_gitignore=not args.no_respect_gitignore,
            default_excludes=not args.include_environments,
        )
    _print(run, args, fixed_stdin, out, err)
    if args.exit_zero:
        return EXIT_CLEAN
    if run.diagnostics or (args.diff and run.diffs):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _print(run: LintRun, args, fixed_stdin: str | None, out: TextIO, err: TextIO) -> None:
    if fixed_stdin is not None:
        out.write(fixed_stdin)
    if args.diff:
        out.write("".join(run.diffs))
    elif args.statistics:
        out.write(report.statistics(run.diagnostics))
    elif fixed_stdin is None and not args.add_noqa:
        out.write(report.render(args.format, run.diagnostics, show_fixes=True))
    if args.quiet:
        return
    for note in run.notes:
        if args.verbose or not note.verbose:
            err.write(report.note_text(note) + "\n")
    if run.files == 0 and args.paths != ["-"]:
        err.write(_nothing_linted(run.skipped) + "\n")
    err.write(_summary(run, args) + "\n")


def _nothing_linted(skipped: WalkStats) -> str:
    reasons = [
        (skipped.gitignored, ".gitignore (untracked)", "--no-respect-gitignore"),
        (skipped.excluded, "`exclude`", "name the files, or change `exclude`"),
        (skipped.environments, "environment/VCS folders", "--include-environments"),
    ]
    parts = [f"{count} by {why} ({how})" for count, why, how in reasons if count]
    if not parts:
        return "torchvet lint: nothing to lint: no .py, .ipynb, .md or .rst files under the paths"
    example = f"; e.g. {skipped.examples[0]}" if skipped.examples else ""
    return "torchvet lint: nothing was linted: skipped " + ", ".join(parts) + example


def _summary(run: LintRun, args: argparse.Namespace) -> str:
    count = len(run.diagnostics)
    parts = [f"{run.files} file{'s' if run.files != 1 else ''} checked"]
    if args.fix and not args.diff:
        parts.append(f"{run.fixed} fixed")
    if args.add_noqa:
        parts.append(f"{run.noqa_added} `# noqa` added")
    if count:
        safe = sum(1 for d in run.diagnostics if d.fix is not None and d.fix.safe)
        unsafe = sum(1 for d in run.diagnostics if d.fix is not None and not d.fix.safe)
        found = f"{count} finding{'s' if count != 1 else ''}"
        hints = []
        if safe and not args.fix:
            hints.append(f"{safe} fixable with --fix")
        if unsafe and not args.unsafe_fixes:
            hints.append(f"{unsafe} more with --unsafe-fixes")
        parts.append(found + (f" ({'; '.join(hints)})" if hints else ""))
    else:
        parts.append("no findings")
    unparsed = sum(1 for note in run.notes if note.verbose)
    if unparsed and not args.verbose:
        parts.append(f"{unparsed} code block{'s' if unparsed != 1 else ''} not parsed (--verbose)")
    return "torchvet lint: " + ", ".join(parts)
