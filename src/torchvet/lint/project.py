"""The oldest torch a project declares it supports, read from its packaging files.

Read, never run: ``pyproject.toml`` (PEP 621 dependencies and extras, Poetry),
``setup.cfg``, string literals in ``setup.py``, and ``requirements*.txt`` in the
nearest folder above a file that has any of them.
"""

from __future__ import annotations

import configparser
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from torchvet.config_file import read_pyproject

PACKAGING_FILES = ("pyproject.toml", "setup.cfg", "setup.py")
_REQUIREMENTS = re.compile(r"requirements.*\.txt$", re.IGNORECASE)
# `torch`, then optional extras, then the specifiers up to a marker or the end.
_TORCH_SPEC = re.compile(r"^\s*torch\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;#]*)", re.IGNORECASE)
_LOWER_BOUND = re.compile(r"(>=|===|==|~=|>|\^|~)\s*v?(\d+(?:\.\d+)*)")
_SETUP_PY_STRING = re.compile(r"""["'](torch\s*(?:\[[^\]"']*\])?\s*[<>=~!^][^"']*)["']""")


@dataclass(frozen=True)
class TorchFloor:
    version: tuple[int, ...]
    source: str  # the file that declares it

    @property
    def text(self) -> str:
        return ".".join(map(str, self.version))


def lower_bound(requirement: str) -> tuple[int, ...] | None:
    """The smallest torch a requirement string allows (``None``: not torch, or no floor)."""
    match = _TORCH_SPEC.match(requirement)
    if match is None or re.match(r"torch[\w.-]", requirement.strip(), re.IGNORECASE):
        return None  # not torch itself (torchvision, torch-geometric, ...)
    bounds = [
        tuple(int(part) for part in found.group(2).split("."))
        for found in _LOWER_BOUND.finditer(match.group("spec"))
    ]
    return min(bounds) if bounds else None


def _pyproject(path: str) -> list[str]:
    data = read_pyproject(path)
    project = data.get("project", {})
    found = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        found += extra
    poetry = data.get("tool", {}).get("poetry", {}).get("dependencies", {})
    value = poetry.get("torch")
    if isinstance(value, dict):
        value = value.get("version")
    if isinstance(value, str):
        found.append("torch" + (value if value[:1] in "<>=~^!" else "==" + value))
    return [item for item in found if isinstance(item, str)]


def _setup_cfg(path: str) -> list[str]:
    parser = configparser.ConfigParser()
    parser.read(path, encoding="utf-8")
    found = []
    if parser.has_option("options", "install_requires"):
        found += parser.get("options", "install_requires").splitlines()
    if parser.has_section("options.extras_require"):
        for _, value in parser.items("options.extras_require"):
            found += value.splitlines()
    return found


def _setup_py(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return _SETUP_PY_STRING.findall(handle.read())


def _requirements(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return handle.read().splitlines()


_READERS = {"pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "setup.py": _setup_py}


@lru_cache(maxsize=256)
def torch_floor_in(folder: str) -> TorchFloor | None:
    """The lowest torch floor declared by the nearest project folder at or above ``folder``."""
    folder = os.path.abspath(folder)
    while True:
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            names = []
        files = [n for n in names if n in _READERS or _REQUIREMENTS.match(n)]
        if files:
            return _lowest(folder, files)
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _lowest(folder: str, files: list[str]) -> TorchFloor | None:
    best: TorchFloor | None = None
    for name in files:
        reader = _READERS.get(name, _requirements)
        try:
            requirements = reader(os.path.join(folder, name))
        except (OSError, UnicodeDecodeError, ValueError, configparser.Error):
            continue  # an unreadable file declares nothing we can use
        for requirement in requirements:
            bound = lower_bound(requirement)
            if bound is not None and (best is None or bound < best.version):
                best = TorchFloor(bound, name)
    return best


def torch_floor(path: str) -> TorchFloor | None:
    """The torch floor of the project that ``path`` (a linted file, or ``-``) belongs to."""
    return torch_floor_in(os.path.dirname(os.path.abspath(path)) if path != "-" else os.getcwd())
