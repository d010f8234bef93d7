"""One list of skipped folders: scan skips VCS and tool caches, lint and check also
environments (unless --include-environments)."""

from __future__ import annotations

import shutil
from pathlib import Path

from torchvet.lint.discover import discover
from torchvet.scan import iter_files
from torchvet.skipdirs import DEFAULT_EXCLUDED_DIRS, ENVIRONMENT_DIRS, TOOL_DIRS

MODEL = Path(__file__).resolve().parents[1] / "examples" / "models" / "safe_state_dict.pt"


def test_walks_skip_the_listed_folders(tmp_path: Path) -> None:
    for folder in (".git", "__pycache__", "node_modules", ".venv", "src"):
        (tmp_path / folder).mkdir()
        shutil.copy(MODEL, tmp_path / folder / "m.pt")
        (tmp_path / folder / "a.py").write_text("x = 1\n")
    scanned = {Path(p).parent.name for p in iter_files([tmp_path])}
    assert scanned == {"node_modules", ".venv", "src"}
    linted = {Path(p).parent.name for p in discover([str(tmp_path)], respect_gitignore=False)}
    assert linted == {"src"}
    every = discover([str(tmp_path)], respect_gitignore=False, default_excludes=False)
    assert {Path(p).parent.name for p in every} == {
        ".git",
        "__pycache__",
        "node_modules",
        ".venv",
        "src",
    }
    assert (
        DEFAULT_EXCLUDED_DIRS == TOOL_DIRS | ENVIRONMENT_DIRS and not TOOL_DIRS & ENVIRONMENT_DIRS
    )
