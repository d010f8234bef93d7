"""The Ruff-grade workflow: notebook positions in SARIF/GitHub output, levels, `torchvet rule`,
--extend-select, --add-noqa, unused `noqa` codes (TV900), --verbose."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES
from torchvet.report import lint_report as report

from .helpers import FIXTURES, REPO, lint_dir, run_cli

NOTEBOOK = FIXTURES / "TV001" / "notebook.ipynb"


def _notebook_run(tmp_path: Path):
    shutil.copy(NOTEBOOK, tmp_path / "notebook.ipynb")
    return lint_dir(tmp_path, select=["TV001"])


def test_sarif_and_github_point_at_the_raw_notebook_line(tmp_path: Path) -> None:
    run = _notebook_run(tmp_path)
    (finding,) = run.diagnostics
    raw_lines = (tmp_path / "notebook.ipynb").read_text(encoding="utf-8").splitlines()
    (result,) = json.loads(report.as_sarif(run.diagnostics))["runs"][0]["results"]
    region = (
        result["region"]
        if "region" in result
        else result["locations"][0]["physicalLocation"]["region"]
    )
    raw = raw_lines[region["startLine"] - 1]
    # The region covers the keyword as it is written in the JSON file.
    assert raw[region["startColumn"] - 1 : region["endColumn"] - 1] == "weights_only=True"
    assert result["properties"] == {"cell": 3, "cellLine": 1, "cellColumn": finding.column}
    assert "(cell 3, line 1," in result["message"]["text"]
    github = report.as_github(run.diagnostics)
    assert f"line={region['startLine']},col={region['startColumn']}," in github
    assert "(cell 3, line 1," in github
    # Text and JSON keep the cell's own coordinates.
    assert report.json_records(run.diagnostics)[0]["line"] == 1


def test_help_uris_are_absolute_and_levels_agree(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(
        "import torch\nm.load_state_dict(torch.load(p), weights_only=True)\n"
        "x = torch.load(p)  # noqa: TV999\n"
    )
    run = lint_dir(tmp_path)
    log = json.loads(report.as_sarif(run.diagnostics))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert all(rule["helpUri"].startswith("https://") for rule in rules)
    levels = {rule["id"]: rule["defaultConfiguration"]["level"] for rule in rules}
    records = report.json_records(run.diagnostics)
    github = report.as_github(run.diagnostics).splitlines()
    results = log["runs"][0]["results"]
    assert {r["code"] for r in records} == {"TV001", "TV002", "TV900"}
    for record, result, line in zip(records, results, github, strict=True):
        assert record["level"] == result["level"] == levels[record["code"]]
        command = {"error": "error", "warning": "warning", "note": "notice"}[record["level"]]
        assert line.startswith(f"::{command} ")


def test_rule_command_prints_documentation() -> None:
    shown = run_cli_command("rule", "tv001")
    assert shown.returncode == 0
    assert shown.stdout.startswith("# TV001 misplaced-load-keyword")
    assert "## Why is this bad?" in shown.stdout
    listing = run_cli_command("rule")
    assert len(listing.stdout.splitlines()) == len(RULES)
    assert run_cli_command("rule", "TV5").returncode == 2


def run_cli_command(*args: str):
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    return subprocess.run(
        [sys.executable, "-m", "torchvet", *args], capture_output=True, text=True, env=env
    )


SAMPLE = "import torch\nx = torch.load(p)\ny = torch.load(p, weights_only=False)\n"


def test_extend_select_adds_to_select(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(SAMPLE)
    out = run_cli("--select", "TV003", "--extend-select", "TV002", "a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out
    (tmp_path / "pyproject.toml").write_text(
        '[tool.torchvet]\nselect = ["TV003"]\nextend-select = ["TV002"]\n'
    )
    out = run_cli("a.py", cwd=tmp_path).stdout
    assert "TV002" in out and "TV003" in out


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


def test_unparsed_blocks_are_listed_only_with_verbose(tmp_path: Path) -> None:
    (tmp_path / "doc.md").write_text("```python\ntorch.load(\n```\n")
    quiet = run_cli("doc.md", cwd=tmp_path)
    assert "does not parse" not in quiet.stderr
    assert "1 code block not parsed (--verbose)" in quiet.stderr
    verbose = run_cli("-v", "doc.md", cwd=tmp_path)
    assert "doc.md:2: note: markdown fence does not parse" in verbose.stderr


@pytest.mark.parametrize("kind", ["py", "md"])
def test_docstring_and_fence_findings_can_be_fixed_in_place(tmp_path: Path, kind: str) -> None:
    source = FIXTURES / "TV001" / ("docstrings.py" if kind == "py" else "tutorial.md")
    text = source.read_text(encoding="utf-8")
    outcome = lint_file_text(str(source), text, list(RULES), Options(fix=True))
    assert outcome.fixed and outcome.new_text is not None
    if kind == "py":
        compile(outcome.new_text, "x.py", "exec")
