"""The one pyproject.toml reader, and scan's allowlist there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torchvet.config_file import (
    PyprojectError,
    find_pyproject,
    load_scan_allow,
    read_pyproject,
    torchvet_table,
)


def test_nearest_pyproject_and_its_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.torchvet]\nselect = ['TV0']\n")
    inner = tmp_path / "a" / "b"
    inner.mkdir(parents=True)
    found = find_pyproject(inner)
    assert found == (tmp_path / "pyproject.toml").resolve()
    assert torchvet_table(found) == {"select": ["TV0"]}


@pytest.mark.parametrize("content", [b"select = [", b"x = '\xff'\n"])
def test_broken_files_raise_one_error_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_bytes(content)
    with pytest.raises(PyprojectError, match=re.escape(str(path))):
        read_pyproject(path)
    assert load_scan_allow(tmp_path) == []  # scan's allowlist: nothing from a broken file


def test_scan_allowlist_from_both_tables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.torchvet]\nallow = ['a.B', 3]\n[tool.torchvet.scan]\nallow = ['c.D']\n"
    )
    assert load_scan_allow(tmp_path) == ["a.B", "c.D"]
