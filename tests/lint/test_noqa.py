"""Suppression comments: --add-noqa writes one per finding; unused and unknown codes (TV900)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .helpers import NOTEBOOK, SAMPLE, lint_dir, run_cli


def test_add_noqa_suppresses_every_finding(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SAMPLE + "z = torch.load(p)  # noqa: E501\n")
    shutil.copy(NOTEBOOK, tmp_path / "notebook.ipynb")
    first = run_cli("--add-noqa", ".", cwd=tmp_path)
    assert first.returncode == 0, first.stderr  # every finding is now suppressed
    assert "4 `# noqa` added, no findings" in first.stderr
    text = (tmp_path / "a.py").read_text()
    assert "x = torch.load(p)  # noqa: TV002\n" in text
    assert "z = torch.load(p)  # noqa: E501, TV002\n" in text
    compile(text, "a.py", "exec")
    again = run_cli(".", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, ""), again.stdout
    import nbformat

    nbformat.validate(nbformat.read(tmp_path / "notebook.ipynb", as_version=4))


def test_unused_and_unknown_noqa_codes(tmp_path: Path) -> None:
    code = (
        "import torch\n"
        "x = torch.load(p, weights_only=True)  # noqa: TV002\n"
        "y = torch.load(p)  # noqa: TV002, TV003\n"
        "z = torch.load(p)  # noqa: TV002 , TV02\n"
        's = "# noqa: TV002 in a string"\n'
    )
    (tmp_path / "a.py").write_text(code)
    run = lint_dir(tmp_path)
    assert [(d.line, d.message.split(":")[0]) for d in run.diagnostics] == [
        (2, "unused suppression"),
        (3, "unused suppression"),
        (4, "unknown rule code `TV02` in a suppression comment"),
    ]
    only = lint_dir(tmp_path, select=["TV900"])  # TV002 not enabled: not judged
    assert [d.line for d in only.diagnostics] == [4]
    fixed = lint_dir(tmp_path, fix=True)
    assert fixed.fixed == 3 and not fixed.diagnostics
    assert (tmp_path / "a.py").read_text().splitlines()[1:4] == [
        "x = torch.load(p, weights_only=True)",
        "y = torch.load(p)  # noqa: TV002",
        "z = torch.load(p)  # noqa: TV002",
    ]
