"""``[tool.torchvet]`` in ``pyproject.toml``: select, extend-select, ignore, exclude,
per-file-ignores."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from torchvet.config_file import PyprojectError, find_pyproject, torchvet_table


class ConfigError(Exception):
    pass


# [tool.torchvet] keys read by other commands (scan's allowlist, check's settings):
# not lint's business, but not unknown either.
OTHER_COMMANDS_KEYS = frozenset({"allow", "scan", "check"})


@dataclass
class Config:
    root: Path = field(default_factory=Path.cwd)  # patterns are relative to this folder
    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    source: Path | None = None


def _codes(value: object, key: str, where: Path) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: [tool.torchvet] {key} must be a list of strings")
    return [v.strip().upper() for v in value]


def load_config(start: Path | None = None, explicit: Path | None = None) -> Config:
    path = explicit or find_pyproject(start)
    if path is None:
        return Config()
    try:
        table = torchvet_table(path)
    except PyprojectError as exc:
        raise ConfigError(str(exc)) from exc
    config = Config(root=path.parent.resolve(), source=path)
    known = {"select", "extend-select", "ignore", "exclude", "per-file-ignores"}
    unknown = sorted(set(table) - known - OTHER_COMMANDS_KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.torchvet] keys: {', '.join(unknown)}")
    if "select" in table:
        config.select = _codes(table["select"], "select", path)
    config.extend_select = _codes(table.get("extend-select", []), "extend-select", path)
    config.ignore = _codes(table.get("ignore", []), "ignore", path)
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(v, str) for v in exclude):
        raise ConfigError(f"{path}: [tool.torchvet] exclude must be a list of strings")
    config.exclude = list(exclude)
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{path}: [tool.torchvet] per-file-ignores must be a table")
    config.per_file_ignores = {
        pattern: _codes(codes, f"per-file-ignores.{pattern}", path)
        for pattern, codes in per_file.items()
    }
    return config


def configure(
    select: list[str] | None = None,
    ignore: Sequence[str] = (),
    extend_select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    explicit: Path | None = None,
) -> Config:
    """The settings of a run: pyproject's, then the command line's on top (``select``
    replaces, the others add). ConfigError for an unreadable file or an unknown rule code."""
    _known_codes([*(select or []), *extend_select, *ignore], "")
    config = load_config(explicit=explicit)
    codes = [*(config.select or []), *config.extend_select, *config.ignore]
    _known_codes(codes, f" in {config.source}")
    if select:
        config.select = list(select)
    config.extend_select = config.extend_select + list(extend_select)
    config.ignore = config.ignore + list(ignore)
    config.exclude = config.exclude + list(exclude)
    return config


def _known_codes(codes: list[str], where: str) -> None:
    from torchvet.lint.rules import unknown_codes

    bad = unknown_codes(codes)
    if bad:
        raise ConfigError(f"unknown rule code(s){where}: {', '.join(bad)}")


def selected(config: Config) -> list[str] | None:
    """The rule prefixes to run: ``select`` (all rules if unset) plus ``extend-select``."""
    if not config.extend_select:
        return config.select
    return [*(config.select or ["ALL"]), *config.extend_select]


def relative_posix(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()
