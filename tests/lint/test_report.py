"""Lint reports: SARIF and GitHub point at the raw notebook line; levels agree everywhere."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from torchvet.report import lint_report as report

from .helpers import NOTEBOOK, lint_dir


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
