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


def rule_codes(value: str) -> list[str]:
    """``--select``/``--ignore`` values: comma-separated rule codes or prefixes."""
    return [part.strip().upper() for part in value.split(",") if part.strip()]


def add_walk_options(parser: argparse.ArgumentParser, gitignore_help: str) -> None:
    """How folders are walked when looking for code (lint and check)."""
    parser.add_argument("--no-respect-gitignore", action="store_true", help=gitignore_help)
    parser.add_argument(
        "--include-environments",
        action="store_true",
        help="also walk virtualenvs, site-packages, node_modules and VCS folders",
    )
