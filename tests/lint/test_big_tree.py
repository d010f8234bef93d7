"""--fix --unsafe-fixes over real, large trees (installed torch and sympy sources).

Every changed file must still compile, and a second run must change nothing.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

PACKAGES = ("torch", "sympy")


def _only_python(folder: str, names: list[str]) -> list[str]:
    """copytree filter: keep folders and .py files (skips GBs of libraries and headers)."""
    return [n for n in names if ("." in n and not n.endswith(".py")) or n == "__pycache__"]


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.mark.slow
def test_fix_real_trees(tmp_path: Path) -> None:
    roots = [(name, _package_dir(name)) for name in PACKAGES]
    roots = [(name, path) for name, path in roots if path is not None]
    if not roots:
        pytest.skip("neither torch nor sympy is installed")
    for name, source in roots:
        shutil.copytree(
            source,
            tmp_path / name,
            ignore=_only_python,
        )
    before = {p: p.read_bytes() for p in tmp_path.rglob("*.py")}
    assert len(before) > 1000
    first = lint_paths_fixed(tmp_path)
    changed = [p for p, data in before.items() if p.read_bytes() != data]
    assert first.fixed > 0 and changed
    for path in changed:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    snapshot = {p: p.read_bytes() for p in changed}
    second = lint_paths_fixed(tmp_path)
    assert second.fixed == 0
    assert {p: p.read_bytes() for p in changed} == snapshot
    assert not [p for p in tmp_path.rglob(".torchvet-*")]


def lint_paths_fixed(folder: Path):
    from torchvet.lint.api import lint_paths
    from torchvet.lint.config import Config
    from torchvet.lint.engine import Options

    return lint_paths(
        [str(folder)], Config(root=folder), Options(fix=True, unsafe_fixes=True), jobs=2
    )
