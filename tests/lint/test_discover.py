"""Which files are linted: git's own ignore rule (tracked files are linted), named paths
always, and a run that lints nothing says why."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from .helpers import run_cli

SAMPLE = "import torch\nx = torch.load(p)\n"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("generated/\n*_pb2.py\n")
    for name in ("src/ok.py", "generated/tracked.py", "generated/new.py", "a_pb2.py", "b_pb2.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(SAMPLE)
    _git(tmp_path, "add", "src/ok.py", ".gitignore")
    _git(tmp_path, "add", "-f", "generated/tracked.py", "a_pb2.py")
    return tmp_path


def _linted(result) -> set[str]:
    return {line.split(":", 1)[0] for line in result.stdout.splitlines()}


def test_tracked_files_are_linted_even_when_ignored(repo: Path) -> None:
    result = run_cli(".", cwd=repo)
    assert _linted(result) == {"src/ok.py", "generated/tracked.py", "a_pb2.py"}


def test_named_paths_are_always_linted(repo: Path) -> None:
    assert _linted(run_cli("generated", cwd=repo)) == {"generated/new.py", "generated/tracked.py"}
    assert _linted(run_cli("b_pb2.py", cwd=repo)) == {"b_pb2.py"}


def test_a_run_that_lints_nothing_says_why(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "x.py").write_text(SAMPLE)
    result = run_cli(".", cwd=tmp_path)
    assert result.returncode == 0
    assert "0 files checked" in result.stderr
    assert "nothing was linted: skipped 1 by .gitignore (untracked) (--no-respect-gitignore)" in (
        result.stderr
    )
    # Following the advice, or naming the folder, lints it.
    assert run_cli("--no-respect-gitignore", ".", cwd=tmp_path).returncode == 1
    assert "1 file checked" in run_cli("build", cwd=tmp_path).stderr
