"""`torchvet rule`: a rule's documentation in the terminal, every rule without a code."""

from __future__ import annotations

from torchvet.lint.rules import RULES

from .helpers import REPO


def test_rule_command_prints_documentation() -> None:
    shown = run_cli_command("rule", "tv001")
    assert shown.returncode == 0
    assert shown.stdout.startswith("# TV001 misplaced-load-keyword")
    assert "## Why is this bad?" in shown.stdout
    listing = run_cli_command("rule")
    assert len(listing.stdout.splitlines()) == len(RULES)
    assert run_cli_command("rule", "TV5").returncode == 2


def run_cli_command(*args: str):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "torchvet", *args], capture_output=True, text=True, env=env
    )
