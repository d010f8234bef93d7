"""Lint settings: pyproject's [tool.torchvet], with the command line's codes on top;
extend-select adds to select."""

from __future__ import annotations

from pathlib import Path

import pytest

from torchvet.lint.config import ConfigError, configure

from .helpers import SAMPLE, run_cli


def _project(tmp_path: Path, table: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f"[tool.torchvet]\n{table}\n")
    return tmp_path


def test_command_line_select_replaces_and_the_rest_adds(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(_project(tmp_path, "select = ['TV0']\nignore = ['TV002']\nexclude = ['a/']"))
    config = configure(["TV1"], ["TV101"], ["TV9"], ["b/"])
    assert config.select == ["TV1"] and config.extend_select == ["TV9"]
    assert config.ignore == ["TV002", "TV101"] and config.exclude == ["a/", "b/"]
    assert configure().select == ["TV0"]


def test_unknown_codes_are_refused_where_they_are_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(_project(tmp_path, "ignore = ['TV002', 'XY1']"))
    with pytest.raises(ConfigError, match=r"^unknown rule code\(s\): TV99$"):
        configure(["TV99"])
    with pytest.raises(ConfigError, match=r"unknown rule code\(s\) in .*pyproject.toml: XY1"):
        configure()


def test_an_unreadable_pyproject_is_a_config_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.torchvet]\nselect = ['\xff']\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"pyproject\.toml"):
        configure()


def test_extend_select_adds_to_select(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SAMPLE)
    out = run_cli("--select", "TV003", "--extend-select", "TV002", "a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchvet]\nselect = ["TV003"]\nextend-select = ["TV002"]\n'
    )
    out = run_cli("a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out
