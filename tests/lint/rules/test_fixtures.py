"""Every rule's fixture folder against its checked-in snapshot (findings, notes, fixes)."""

from __future__ import annotations

import shutil

import pytest

from tests.lint.helpers import FIXTURES, check_snapshot, lint_dir, relative, render_run
from torchvet.lint.rules import RULES, RULES_BY_CODE

RULE_DIRS = sorted(p.name for p in FIXTURES.iterdir() if p.name in RULES_BY_CODE)


def test_every_rule_has_a_fixture_folder() -> None:
    assert sorted(rule.code for rule in RULES) == RULE_DIRS


@pytest.mark.parametrize("code", RULE_DIRS)
def test_findings_match_snapshot(code: str) -> None:
    folder = FIXTURES / code
    run = lint_dir(folder, select=[code])
    assert run.diagnostics, "each fixture must have positives"
    assert {d.code for d in run.diagnostics} == {code}
    check_snapshot(folder / "expected.txt", render_run(run, folder))


@pytest.mark.parametrize(
    "code", [c for c in RULE_DIRS if RULES_BY_CODE[c].fix_availability != "never"]
)
def test_fixes_match_snapshot(code: str, tmp_path) -> None:
    folder = tmp_path / code
    shutil.copytree(FIXTURES / code, folder, ignore=shutil.ignore_patterns("expected.*"))
    run = lint_dir(folder, select=[code], diff=True, unsafe_fixes=True)
    assert run.diffs
    check_snapshot(FIXTURES / code / "expected.diff", relative("".join(run.diffs), folder))
