"""``torchvet rule CODE``: a lint rule's documentation in the terminal (all rules without CODE)."""

from __future__ import annotations

import argparse
import sys

DESCRIPTION = """\
Print the documentation of a lint rule (what it finds, why, an example, what to
write instead, and whether --fix can repair it). Without CODE, list every rule."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("code", nargs="?", metavar="CODE", help="a rule code, e.g. TV001")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from torchvet.lint.docgen import rule_index, rule_page
    from torchvet.lint.rules import RULES_BY_CODE

    if args.code is None:
        sys.stdout.write(rule_index(args.format))
        return 0
    rule = RULES_BY_CODE.get(args.code.strip().upper())
    if rule is None:
        sys.stderr.write(
            f"torchvet rule: error: unknown rule code {args.code!r} (`torchvet rule` lists them)\n"
        )
        return 2
    sys.stdout.write(rule_page(rule, args.format))
    return 0
