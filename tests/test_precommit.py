"""The pre-commit hooks in .pre-commit-hooks.yaml, run by pre-commit itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.worktree import REPO, commit_all, copy_tree
from torchvet.check.detect import has_model_suffix

HOOKS = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
NAMES = [
    "model.pt", "w.PTH", "x.pt2", "m.ptl", "pytorch_model.bin", "last.ckpt", "a.pkl",
    "a.pickle", "m.joblib", "d.dill", "w.safetensors", "a.npy", "a.npz", "a.pkl.gz",
    "m.joblib.xz", "a.bin.zst", "model.py", "notes.txt", "a.gz", "a.tar.gz", "x.pt.txt",
    "pt", "weights",
]  # fmt: skip


def test_scan_hook_selects_the_model_extensions_check_uses() -> None:
    pattern = re.compile(HOOKS["torchvet-scan"]["files"])
    assert [n for n in NAMES if pattern.search(n)] == [n for n in NAMES if has_model_suffix(n)]


def test_hooks_are_python_hooks_on_the_cli() -> None:
    lint, scan = HOOKS["torchvet-lint"], HOOKS["torchvet-scan"]
    assert (lint["language"], scan["language"]) == ("python", "python")
    assert lint["entry"] == "torchvet lint" and scan["entry"].startswith("torchvet scan")
    assert lint["types_or"] == ["python", "jupyter", "markdown", "rst"]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="pre-commit needs git")
def test_try_repo_runs_both_hooks(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    hooks_repo = copy_tree(tmp_path / "torchvet")
    commit_all(hooks_repo)
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(
        "import torch\nmodel.load_state_dict(torch.load(PATH), weights_only=True)\n"
    )
    (project / "ok.md").write_text("```python\nx = 1\n```\n")
    shutil.copy(REPO / "examples" / "models" / "poc_attack.pt", project / "attack.pt")
    shutil.copy(REPO / "examples" / "models" / "safe_state_dict.pt", project / "weights.txt")
    commit_all(project)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FORCE_COLOR")}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-home")
    result = subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hooks_repo), "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert re.search(r"torchvet lint\.+Failed", out), out
    assert re.search(r"torchvet scan\.+Failed", out), out
    assert "train.py:2:41: TV001 [*]" in out
    assert "attack.pt  torch-zip  DANGEROUS" in out
    assert "weights.txt" not in out  # pre-commit picks by name; torchvet check by content
    assert "1 file scanned: 1 dangerous" in out
