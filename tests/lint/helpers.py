"""Shared helpers for the lint tests: running the linter in-process, on text or on a folder,
and snapshots.

Snapshots live beside the fixtures (``tests/fixtures/lint/<rule>/expected.txt`` and
``expected.diff``). Regenerate them after an intended change with::

    TORCHVET_UPDATE_SNAPSHOTS=1 pytest tests/lint
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support import cli
from torchvet.lint.api import lint_paths
from torchvet.lint.config import Config
from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES
from torchvet.report import lint_report as report

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "lint"
UPDATE = os.environ.get("TORCHVET_UPDATE_SNAPSHOTS") == "1"


def lint_dir(folder: Path, select: list[str] | None = None, **options):
    config = Config(root=folder, select=select)
    return lint_paths([str(folder)], config, Options(**options), jobs=1, respect_gitignore=False)


def relative(text: str, folder: Path) -> str:
    return text.replace(str(folder) + os.sep, "").replace(str(folder), ".")


def check_snapshot(path: Path, actual: str) -> None:
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"missing snapshot {path}; run with TORCHVET_UPDATE_SNAPSHOTS=1"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"snapshot {path.name} differs; review and update if intended"


def render_run(run, folder: Path) -> str:
    text = report.text(run.diagnostics, show_fixes=True)
    notes = "".join(report.note_text(n) + "\n" for n in run.notes)
    return relative(text + notes, folder)


def run_cli(*args: str, cwd: Path | None = None, stdin: str | None = None):
    """``torchvet lint ARGS`` in a fresh interpreter."""
    return cli.run_cli("lint", *args, cwd=cwd, stdin=stdin)


def lint(path: str, text: str, **options):
    return lint_file_text(path, text, list(RULES), Options(**options))


def positions(outcome):
    return [
        (d.code, d.cell, d.line, d.column, d.end_line, d.end_column) for d in outcome.diagnostics
    ]


NOTEBOOK = FIXTURES / "TV001" / "notebook.ipynb"
SAMPLE = "import torch\nx = torch.load(p)\ny = torch.load(p, weights_only=False)\n"
