"""``torchvet check`` as a library: a request is validated into a plan, the plan is run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.commands.helpers import make_project
from torchvet.check.api import CheckRequest, prepare_check, run_prepared
from torchvet.results import Verdict


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_project(tmp_path)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (CheckRequest(jobs=0), "--jobs must be at least 1"),
        (CheckRequest(select=["TV999"]), "unknown rule code(s): TV999"),
        (CheckRequest(paths=["missing/"]), "no such file or folder: missing/"),
        (CheckRequest(max_size="big"), "not a size: 'big'"),
        (CheckRequest(torch_version="latest"), "not a torch version: 'latest'"),
    ],
)
def test_bad_requests_say_why(project: Path, request_: CheckRequest, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare_check(request_)


def test_unknown_codes_in_pyproject_name_the_file(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as f:
        f.write("[tool.torchvet]\nextend-select = ['TV9X']\n")
    with pytest.raises(ValueError, match=r"unknown rule code\(s\) in .*pyproject.toml: TV9X"):
        prepare_check(CheckRequest())


def test_a_prepared_check_lints_and_scans(project: Path) -> None:
    prepared = prepare_check(CheckRequest(paths=["src", "checkpoints"], jobs=1))
    assert prepared.jobs == 1 and prepared.urls == []
    run = run_prepared(prepared)
    assert run.lint_files == 2 and [d.code for d in run.diagnostics] == ["TV001"]
    verdicts = {Path(m.path).name: m.result.verdict for m in run.models if m.result}
    assert verdicts == {"best.pt": Verdict.SAFE, "epoch_3.pth": Verdict.DANGEROUS}
