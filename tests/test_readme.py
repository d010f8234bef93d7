"""The README's fresh-machine commands stay true."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    head = text.split("## Commands", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", head, flags=re.S)


def test_readme_has_the_two_setup_commands_near_the_top() -> None:
    commands = _commands()
    assert len(commands) == 2
    assert commands[0].startswith("pip install . && torchvet ")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert _commands()[1] in ci.splitlines()


def test_readme_example_target_exists() -> None:
    target = _commands()[0].split("torchvet ", 1)[1].split()[-1]
    assert (ROOT / target).exists()
