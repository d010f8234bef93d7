"""Command-line options that several commands share, defined once."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, nullcontext
from typing import TextIO


class CannotWrite(Exception):
    """The report file cannot be opened for writing (exit code 2)."""


def open_output(path: str | None) -> AbstractContextManager[TextIO]:
    """``-o FILE`` opened now (CannotWrite if it cannot be), or stdout; closed after."""
    if path is None:
        return nullcontext(sys.stdout)
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise CannotWrite(f"cannot write {path}: {exc.strerror}") from None


def describe(parser: argparse.ArgumentParser, description: str, epilog: str) -> None:
    """The command's help text (kept as written) and its exit codes."""
    parser.description = description
    parser.epilog = epilog
    parser.formatter_class = argparse.RawDescriptionHelpFormatter


def add_paths(parser: argparse.ArgumentParser, help_text: str) -> None:
    """PATH arguments, the current folder by default."""
    parser.add_argument("paths", nargs="*", metavar="PATH", default=["."], help=help_text)


def add_format(parser: argparse.ArgumentParser) -> None:
    """``--format`` text, json or sarif (scan and check)."""
    parser.add_argument(
        "--format", choices=("text", "json", "sarif"), default="text", help="output format"
    )


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")


def add_flag(parser: argparse.ArgumentParser, *names: str, help: str) -> None:
    """An on/off option (``store_true``)."""
    parser.add_argument(*names, action="store_true", help=help)


def exit_codes(success: str, found: str, *more: str) -> str:
    """The epilog of a command: what exit codes 0 and 1 mean (2 is always a usage error)."""
    return ", ".join([f"exit codes: 0 = {success}", f"1 = {found}", "2 = usage error", *more])


def add_jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-j", "--jobs", type=int, metavar="N", help="worker processes (default: one per CPU)"
    )


def add_allow(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--allow MODULE.NAME``, repeatable: globals treated as allowlisted."""
    parser.add_argument(
        "--allow", action="append", default=[], metavar="MODULE.NAME", help=help_text
    )


def rule_codes(value: str) -> list[str]:
    """``--select``/``--ignore`` values: comma-separated rule codes or prefixes."""
    return [part.strip().upper() for part in value.split(",") if part.strip()]


def add_walk_options(parser: argparse.ArgumentParser, gitignore_help: str) -> None:
    """How folders are walked when looking for code (lint and check)."""
    add_flag(parser, "--no-respect-gitignore", help=gitignore_help)
    add_flag(
        parser,
        "--include-environments",
        help="also walk virtualenvs, site-packages, node_modules and VCS folders",
    )
