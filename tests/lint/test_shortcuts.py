"""The speed shortcuts (text prefilter, hot-line walking) change no finding."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from torchvet.lint import checker, engine
from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES

from .helpers import FIXTURES, REPO


def _corpus() -> list[Path]:
    files = [p for p in FIXTURES.rglob("*") if p.suffix in (".py", ".md", ".rst", ".ipynb")]
    files += sorted((REPO / "benchmarks" / "lint_labelled").iterdir())
    spec = importlib.util.find_spec("torch")
    if spec and spec.submodule_search_locations:
        torch_dir = Path(next(iter(spec.submodule_search_locations)))
        files += sorted(torch_dir.glob("*.py")) + sorted(
            (torch_dir / "hub.py").parent.glob("utils/*.py")
        )
    return files


def _findings(files: list[Path]) -> list[tuple]:
    found = []
    for path in files:
        outcome = lint_file_text(
            str(path), path.read_text(encoding="utf-8"), list(RULES), Options()
        )
        found += [
            (d.path, d.cell, d.line, d.column, d.code, d.message) for d in outcome.diagnostics
        ]
    return found


@pytest.fixture(scope="module")
def corpus() -> list[Path]:
    return _corpus()


def test_prefilter_and_hot_lines_lose_nothing(corpus, monkeypatch) -> None:
    fast = _findings(corpus)
    assert len(fast) > 100
    monkeypatch.setattr(engine, "might_have_findings", lambda text: True)
    monkeypatch.setattr(checker, "hot_lines", lambda code, words: None)
    assert _findings(corpus) == fast
