"""Command-line options that several commands share, defined once."""

from __future__ import annotations

import argparse


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
