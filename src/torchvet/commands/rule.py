"""``torchvet rule CODE``: a lint rule's documentation in the terminal (all rules without CODE)."""

from __future__ import annotations

import argparse
import json
import sys

DESCRIPTION = """\
Print the documentation of a lint rule (what it finds, why, an example, what to
write instead, and whether --fix can repair it). Without CODE, list every rule."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = DESCRIPTION
    parser.add_argument("code", nargs="?", metavar="CODE", help="a rule code, e.g. TV001")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format")


def run(args: argparse.Namespace) -> int:
    from torchvet.lint.docgen import fix_label
    from torchvet.lint.rules import RULES, RULES_BY_CODE

    if args.code is None:
        if args.format == "json":
            records = [_record(rule, fix_label(rule)) for rule in RULES]
            sys.stdout.write(json.dumps(records, indent=2) + "\n")
        else:
            width = max(len(rule.name) for rule in RULES)
            for rule in RULES:
                sys.stdout.write(f"{rule.code}  {rule.name:<{width}}  {rule.summary}\n")
        return 0
    rule = RULES_BY_CODE.get(args.code.strip().upper())
    if rule is None:
        sys.stderr.write(
            f"torchvet rule: error: unknown rule code {args.code!r} (`torchvet rule` lists them)\n"
        )
        return 2
    if args.format == "json":
        sys.stdout.write(json.dumps(_record(rule, fix_label(rule)), indent=2) + "\n")
    else:
        sys.stdout.write(
            f"# {rule.code} {rule.name}\n\n{rule.summary}. Fix: {_fix_words(rule)}.\n\n"
            f"{rule.documentation()}\n"
        )
    return 0


def _record(rule, fix: str) -> dict:
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "fix": fix,
        "explanation": rule.documentation(),
    }


def _fix_words(rule) -> str:
    from torchvet.lint.docgen import fix_label

    label = fix_label(rule)
    return "none" if label == "–" else label
