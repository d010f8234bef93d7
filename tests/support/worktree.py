"""A copy of the working tree's installable parts, for tests that install torchvet."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What `pip install .`, the README's example and pre-commit's manifest need.
PARTS = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "src", "examples")
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def copy_tree(dest: Path) -> Path:
    """Copy the working tree's files (not the last commit: uncommitted edits count)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=_SKIP)
        else:
            shutil.copy2(source, dest / part)
    return dest


def commit_all(repo: Path) -> None:
    """Make ``repo`` a git repository with everything in it committed."""
    git = ["git", "-c", "user.name=torchvet tests", "-c", "user.email=tests@example.invalid"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(repo), "commit", "-q", "-m", "snapshot"], check=True)
