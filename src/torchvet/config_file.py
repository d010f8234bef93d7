"""``pyproject.toml``: the one reader of it, and scan's own setting there.

``[tool.torchvet]`` holds lint's settings (``torchvet.lint.config``), scan's allowlist
(``allow``, also ``[tool.torchvet.scan] allow``) and check's ``[tool.torchvet.check]``
(``torchvet.check.settings``); ``torchvet.lint.project`` reads a project's declared
torch version from the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class PyprojectError(ValueError):
    """A pyproject.toml that cannot be read or parsed (the message names the file)."""


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` in ``start`` (default: the current folder) or above."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def read_pyproject(path: Path | str) -> dict[str, Any]:
    """The whole file, parsed; PyprojectError if it cannot be read or is not TOML."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (OSError, ValueError) as exc:  # TOMLDecodeError, UnicodeDecodeError
        raise PyprojectError(f"{path}: {exc}") from exc


def torchvet_table(path: Path | str) -> dict[str, Any]:
    """``[tool.torchvet]`` of the file (empty when it has none)."""
    return read_pyproject(path).get("tool", {}).get("torchvet", {})


def load_scan_allow(start: Path | None = None) -> list[str]:
    """``allow = ["module.name", ...]`` under ``[tool.torchvet]`` (or ``[tool.torchvet.scan]``);
    nothing when there is no readable pyproject.toml."""
    path = find_pyproject(start)
    if path is None:
        return []
    try:
        section = torchvet_table(path)
    except PyprojectError:
        return []
    names = list(section.get("allow", [])) + list(section.get("scan", {}).get("allow", []))
    return [n for n in names if isinstance(n, str)]
