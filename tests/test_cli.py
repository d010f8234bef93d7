"""The command-line entry point: each command's own usage on a bad flag."""

from __future__ import annotations

import pytest

from tests.support.cli import run_cli


@pytest.mark.parametrize("command", ["scan", "lint", "check", "convert"])
def test_a_bad_flag_prints_that_commands_usage(command: str) -> None:
    proc = run_cli(command, "--no-such-flag", "x", "y.safetensors")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"usage: torchvet {command} ")
    assert "unrecognized arguments: --no-such-flag" in proc.stderr
