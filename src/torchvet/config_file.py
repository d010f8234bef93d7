"""Scanner settings from the nearest ``pyproject.toml`` (``[tool.torchvet]``)."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def find_pyproject(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def load_scan_allow(start: Path | None = None) -> list[str]:
    """``allow = ["module.name", ...]`` under ``[tool.torchvet]`` (or ``[tool.torchvet.scan]``)."""
    path = find_pyproject(start)
    if path is None:
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    section = data.get("tool", {}).get("torchvet", {})
    names = list(section.get("allow", [])) + list(section.get("scan", {}).get("allow", []))
    return [n for n in names if isinstance(n, str)]
