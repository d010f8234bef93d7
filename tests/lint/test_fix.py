"""--fix on every fixture and on real, large trees (installed torch and sympy sources):
result parses, a second pass changes nothing, files stay intact."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.support.markers import needs_torch
from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.fix import apply_to_units, atomic_write
from torchvet.lint.model import Edit, Fix
from torchvet.lint.rules import RULES
from torchvet.lint.sources import extract

from .helpers import FIXTURES, lint_dir


def _parses(path: str, text: str) -> int:
    """Number of snippets in the file that parse."""
    count = 0
    for snippet in extract(path, text)[0]:
        try:
            ast.parse(snippet.code)
            count += 1
        except SyntaxError:
            pass
    return count


@pytest.fixture
def fixture_copy(tmp_path):
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES, target, ignore=shutil.ignore_patterns("expected.*"))
    return target


def test_fix_all_fixtures_twice(fixture_copy) -> None:
    before = {p: p.read_text(encoding="utf-8") for p in fixture_copy.rglob("*") if p.is_file()}
    first = lint_dir(fixture_copy, fix=True, unsafe_fixes=True)
    assert first.fixed > 0
    changed = 0
    for path, old in before.items():
        new = path.read_text(encoding="utf-8")
        if new != old:
            changed += 1
            assert _parses(str(path), new) >= _parses(str(path), old), path
    assert changed >= 9
    after_first = {p: p.read_text(encoding="utf-8") for p in before}
    second = lint_dir(fixture_copy, fix=True, unsafe_fixes=True)
    assert second.fixed == 0
    assert {p: p.read_text(encoding="utf-8") for p in before} == after_first


def test_notebook_fix_is_valid_and_byte_identical_elsewhere(fixture_copy) -> None:
    nbformat = pytest.importorskip("nbformat")
    path = fixture_copy / "TV001" / "notebook.ipynb"
    old = path.read_text(encoding="utf-8")
    lint_dir(fixture_copy / "TV001", fix=True)
    new = path.read_text(encoding="utf-8")
    nbformat.validate(nbformat.reads(new, as_version=4))
    old_lines, new_lines = old.splitlines(keepends=True), new.splitlines(keepends=True)
    assert len(old_lines) == len(new_lines)
    differing = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert differing == [
        (
            '    "model.load_state_dict(torch.load(\\"m.pt\\"), weights_only=True)\\n",\n',
            '    "model.load_state_dict(torch.load(\\"m.pt\\", weights_only=True))\\n",\n',
        )
    ]
    assert json.loads(new)["cells"][2]["source"][1] == 'print("déjà")'


def test_notebook_with_string_source_and_line_count_change() -> None:
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": [
                    "import torch\n",
                    "m.load_state_dict(torch.load(p),\n",
                    "    weights_only=True)",
                ],
            },
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": "x = torch.load(p),"},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    text = json.dumps(nb, indent=2) + "\n"
    outcome = lint_file_text("n.ipynb", text, list(RULES), Options(fix=True))
    assert outcome.new_text is not None
    cells = json.loads(outcome.new_text)["cells"]
    assert cells[0]["source"] == [
        "import torch\n",
        "m.load_state_dict(torch.load(p, weights_only=True))",
    ]
    assert cells[1]["source"] == "x = torch.load(p)"
    assert outcome.new_text.endswith("}\n")
    assert '\n        "import torch\\n",\n' in outcome.new_text  # original indentation kept


def test_overlapping_fixes_wait_for_the_next_pass() -> None:
    first = Fix("a", (Edit(None, (1, 0), (1, 3), "X"),), safe=True)
    second = Fix("b", (Edit(None, (1, 2), (1, 4), "Y"),), safe=True)
    changed, applied = apply_to_units({None: "abcdef"}, [first, second])
    assert changed == {None: "Xdef"} and applied == 1


def test_unsafe_fixes_need_the_flag() -> None:
    text = "import torch\nx = torch.load(p)\n"
    assert lint_file_text("a.py", text, list(RULES), Options(fix=True)).new_text is None
    fixed = lint_file_text("a.py", text, list(RULES), Options(fix=True, unsafe_fixes=True))
    assert fixed.new_text == "import torch\nx = torch.load(p, weights_only=True)\n"


def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path) -> None:
    path = tmp_path / "script.py"
    path.write_text("old\n")
    os.chmod(path, 0o751)
    atomic_write(str(path), b"new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["script.py"]


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
@needs_torch  # its tree has findings to fix; sympy's alone has none
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


@pytest.mark.parametrize("kind", ["py", "md"])
def test_docstring_and_fence_findings_can_be_fixed_in_place(tmp_path: Path, kind: str) -> None:
    source = FIXTURES / "TV001" / ("docstrings.py" if kind == "py" else "tutorial.md")
    text = source.read_text(encoding="utf-8")
    outcome = lint_file_text(str(source), text, list(RULES), Options(fix=True))
    assert outcome.fixed and outcome.new_text is not None
    if kind == "py":
        compile(outcome.new_text, "x.py", "exec")


def lint_paths_fixed(folder: Path):
    from torchvet.lint.api import lint_paths
    from torchvet.lint.config import Config
    from torchvet.lint.engine import Options

    return lint_paths(
        [str(folder)], Config(root=folder), Options(fix=True, unsafe_fixes=True), jobs=2
    )
