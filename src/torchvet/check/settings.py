"""``torchvet check``'s own settings: ``[tool.torchvet.check]`` in ``pyproject.toml``.

```toml
[tool.torchvet]
exclude = ["third_party/"]           # shared with lint: skipped by both
allow = ["argparse.Namespace"]       # shared with scan

[tool.torchvet.check]
max-size = "20GB"                    # larger model files are reported, not scanned
exclude-models = ["data/raw/"]       # model search only (gitignore-style patterns)
models-respect-gitignore = false     # gitignored checkpoints are scanned by default
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from torchvet.config_file import PyprojectError, torchvet_table


class SettingsError(ValueError):
    pass


_UNITS = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*\Z", re.IGNORECASE)


def parse_size(text: str | int) -> int | None:
    """``"20GB"``, ``"500M"``, ``"1.5g"``, ``1024`` -> bytes (binary units); ``"none"`` -> None."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise SettingsError(f"size must not be negative: {text}")
        return text
    if isinstance(text, str) and text.strip().lower() in ("none", "0", "unlimited"):
        return None
    match = _SIZE.match(text) if isinstance(text, str) else None
    if match is None:
        raise SettingsError(f"not a size: {text!r} (examples: 500MB, 20GB, none)")
    number, unit = match.groups()
    return int(float(number) * _UNITS[unit.upper()])


@dataclass
class CheckSettings:
    max_size: int | None = None  # bytes; None = no limit
    exclude_models: list[str] = field(default_factory=list)
    models_respect_gitignore: bool = False

    @classmethod
    def from_pyproject(cls, path: Path | None) -> CheckSettings:
        if path is None:
            return cls()
        try:
            table = torchvet_table(path).get("check", {})
        except PyprojectError as exc:
            raise SettingsError(str(exc)) from exc
        if not isinstance(table, dict):
            raise SettingsError(f"{path}: [tool.torchvet.check] must be a table")
        known = {"max-size", "exclude-models", "models-respect-gitignore"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise SettingsError(f"{path}: unknown [tool.torchvet.check] keys: {', '.join(unknown)}")
        settings = cls()
        if "max-size" in table:
            try:
                settings.max_size = parse_size(table["max-size"])
            except SettingsError as exc:
                raise SettingsError(f"{path}: [tool.torchvet.check] max-size: {exc}") from None
        patterns = table.get("exclude-models", [])
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise SettingsError(f"{path}: [tool.torchvet.check] exclude-models: list of strings")
        settings.exclude_models = list(patterns)
        flag = table.get("models-respect-gitignore", False)
        if not isinstance(flag, bool):
            raise SettingsError(
                f"{path}: [tool.torchvet.check] models-respect-gitignore: true/false"
            )
        settings.models_respect_gitignore = flag
        return settings
