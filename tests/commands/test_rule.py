"""`torchvet rule`: a rule's documentation in the terminal, every rule without a code."""

from __future__ import annotations

from tests.support.cli import run_cli
from torchvet.lint.rules import RULES


def test_rule_command_prints_documentation() -> None:
    shown = run_cli("rule", "tv001")
    assert shown.returncode == 0
    assert shown.stdout.startswith("# TV001 misplaced-load-keyword")
    assert "## Why is this bad?" in shown.stdout
    listing = run_cli("rule")
    assert len(listing.stdout.splitlines()) == len(RULES)
    assert run_cli("rule", "TV5").returncode == 2
