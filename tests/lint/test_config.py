"""[tool.torchvet] and its command-line twins: extend-select adds to select."""

from __future__ import annotations

from pathlib import Path

from .helpers import SAMPLE, run_cli


def test_extend_select_adds_to_select(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SAMPLE)
    out = run_cli("--select", "TV003", "--extend-select", "TV002", "a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchvet]\nselect = ["TV003"]\nextend-select = ["TV002"]\n'
    )
    out = run_cli("a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out
