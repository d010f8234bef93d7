"""The README stays true: its set-up commands, their pasted output, its tables."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.worktree import REPO, copy_tree
from torchvet.lint.rules import RULES

README = (REPO / "README.md").read_text()
QUICK_START = README.split("## Commands", 1)[0]


def _commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", QUICK_START, flags=re.S)


def _pasted_output() -> str:
    (block,) = re.findall(r"```text\n(.+?)\n```", QUICK_START, flags=re.S)
    return block


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _normalise(output: str, root: Path) -> list[str]:
    """Compare modulo absolute paths and the padding rich leaves at line ends."""
    return [line.rstrip() for line in output.replace(f"{root}{os.sep}", "").splitlines()]


# The findings the examples exist to show (tests/check covers the details).
EXPECTED_FINDINGS = [
    "examples/finetune.ipynb:cell 3:1:41: TV001",
    "examples/loading_checkpoints.md:11:52: TV001",
    "examples/save_load_tutorial.py:49:46: TV001",  # the sphinx-gallery comment block
    "examples/save_load_tutorial.py:56:41: TV001",  # the code
]
EXPECTED_VERDICTS = {
    "examples/models/needs_allowlist.pt": "NEEDS-ALLOWLIST",
    "examples/models/poc_attack.pt": "DANGEROUS",
    "examples/models/whole_model.pt": "UNKNOWN",
}


def _assert_expected(output: str) -> None:
    lines = output.splitlines()
    assert [line.split(" [*]")[0] for line in lines[:4]] == EXPECTED_FINDINGS
    for path, verdict in EXPECTED_VERDICTS.items():
        assert f"{path}  torch-zip  {verdict}  " in output
    assert "safe_state_dict.pt" not in output  # safe: counted, not listed
    assert [line.split() for line in lines if line.startswith(("safe ", "needs-", "unknown "))] == [
        ["safe", "1"],
        ["needs-allowlist", "1"],
        ["unknown", "1"],
    ]


def test_readme_has_the_two_setup_commands_near_the_top() -> None:
    commands = _commands()
    assert len(commands) == 2
    assert commands[0] == "pip install . && torchvet check examples/"
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert _commands()[1] in ci.splitlines()


def test_readme_example_target_exists() -> None:
    target = _commands()[0].split("torchvet ", 1)[1].split()[-1]
    assert (REPO / target).exists()


def test_pasted_output_is_what_check_prints() -> None:
    """The same command from this checkout (the fresh-install test below repeats it)."""
    result = run_cli("check", "examples/", cwd=REPO)
    assert result.returncode == 1
    assert _normalise(result.stdout, REPO) == _normalise(_pasted_output(), REPO)
    _assert_expected(_pasted_output())


@pytest.mark.slow
def test_fresh_install_prints_the_pasted_output(tmp_path: Path) -> None:
    """The README's first command, step by step, in a new virtualenv (deps from the index)."""
    tree = copy_tree(tmp_path / "torchvet")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORCE_COLOR")}
    pip = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", "."],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert pip.returncode == 0, pip.stdout + pip.stderr
    result = subprocess.run(
        [str(bindir / "torchvet"), "check", "examples/"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    _assert_expected(result.stdout)
    assert _normalise(result.stdout, tree) == _normalise(_pasted_output(), tree)


def test_rules_table_lists_every_rule() -> None:
    rows = re.findall(
        r"^\| \[(TV\d+)\]\(docs/rules\.md#([\w-]+)\) \| ([\w-]+) \| (.+) \|$",
        _section("Rules"),
        flags=re.M,
    )
    assert [(code, anchor, name, summary) for code, anchor, name, summary in rows] == [
        (r.code, f"{r.code.lower()}-{r.name}", r.name, r.summary) for r in RULES
    ]
    docs = (REPO / "docs" / "rules.md").read_text()
    for rule in RULES:
        assert f"## {rule.code} {rule.name}" in docs


def test_comparison_numbers_are_copied_from_the_benchmark_results() -> None:
    """Measured numbers only: every table row in 'How it compares' is in RESULTS.md."""
    results = (REPO / "benchmarks" / "RESULTS.md").read_text().splitlines()
    rows = [line for line in _section("How it compares").splitlines() if line.startswith("|")]
    assert len(rows) > 10
    missing = [row for row in rows if row not in results]
    assert not missing, "README rows not in benchmarks/RESULTS.md (rerun? copy them): " + str(
        missing
    )
