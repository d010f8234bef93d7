"""Issue 8's guarantee, checked against the real loaders.

Every red-team file (tests/redteam/fam_*.py, seeded subset) is loaded by every real
loader in forked children and scanned by torchvet (tests/redteam/loaders.py). Then:

* each payload fires under at least one real loader (else the generator is broken);
* every file some loader executes is ``unknown`` or ``dangerous`` to
  ``torchvet.scan_file`` and to ``torchvet scan`` (exit code 1), and scanning it never
  runs it;
* ``torchvet.guard()``, ``torchvet.load`` and torchvet's printed advice never run a
  payload (nor does ``torch.load(weights_only=True)``, which they rely on);
* a denial-of-service file is never ``safe``;
* ``torchvet check`` reports every crafted pickle in a folder, whatever its name.

Cases torchvet misses today are ``xfail(strict=True)`` (tests/redteam/known_misses.py).
"""

from __future__ import annotations

import pytest

from tests.redteam import known_misses
from tests.redteam.cases import Case, all_cases
from tests.redteam.fam_dos import HASH_MODULUS, colliding_ints
from tests.redteam.loaders import LOADERS, NOT_SAFE, FileResult, run_all, run_check
from tests.support.markers import needs_torch

pytestmark = needs_torch  # every file goes through torch.load, among other loaders
CASES = all_cases(full=False)
PAYLOAD_CASES = [c for c in CASES if c.payload]
DOS_CASES = [c for c in CASES if not c.payload]
CHECK_CASES = [c for c in CASES if c.family == "check-by-content"]


def params(cases: list[Case], misses: dict[str, str]) -> list:
    out = []
    for case in cases:
        marks = []
        if not case.available:
            marks.append(pytest.mark.skip(reason=f"needs {', '.join(case.requires)}"))
        elif case.id in misses:
            marks.append(pytest.mark.xfail(strict=True, reason=misses[case.id]))
        out.append(pytest.param(case, id=case.id, marks=marks))
    return out


@pytest.fixture(scope="session")
def redteam(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FileResult]:
    folder = tmp_path_factory.mktemp("redteam")
    cases = [c for c in CASES if c.available]
    jobs = [(c.write(folder), LOADERS if c.loaders is None else c.loaders) for c in cases]
    by_path = run_all(jobs)
    return {case.id: by_path[path] for case, (path, _) in zip(cases, jobs, strict=True)}


def describe(result: FileResult) -> str:
    scan = result.scan.extra if result.scan else {}
    findings = "; ".join(f"{c} {g or ''} ({v})" for c, v, g, _m in scan.get("findings", [])[:6])
    return (
        f"executed by {', '.join(result.fired_by) or 'no loader'}; torchvet says "
        f"{result.verdict} [{scan.get('format')}]: {findings}"
    )


@pytest.mark.parametrize("case", params(PAYLOAD_CASES, {}))
def test_payload_fires_under_a_real_loader(case: Case, redteam: dict[str, FileResult]) -> None:
    result = redteam[case.id]
    assert result.fired_by, f"broken generator: no real loader runs {case.id}'s payload"


@pytest.mark.parametrize("case", params(PAYLOAD_CASES, known_misses.SCAN))
def test_scan_rates_executed_files_unknown_or_dangerous(
    case: Case, redteam: dict[str, FileResult]
) -> None:
    result = redteam[case.id]
    scan = result.scan
    assert scan is not None and not scan.timed_out and scan.error is None, scan
    assert not scan.fired, "scanning the file ran its payload"
    assert result.verdict in NOT_SAFE, describe(result)
    assert scan.extra["cli_verdict"] == result.verdict
    assert scan.extra["cli_exit"] == 1


@pytest.mark.parametrize("case", params(PAYLOAD_CASES, known_misses.PROTECTED))
def test_guard_and_torchvet_load_never_run_a_payload(
    case: Case, redteam: dict[str, FileResult]
) -> None:
    result = redteam[case.id]
    assert "torchvet.load" in result.loads and "torch.load(weights_only)" in result.loads
    assert not result.protected_fired, describe(result)


@pytest.mark.parametrize("case", params(DOS_CASES, known_misses.DOS))
def test_denial_of_service_files_are_never_safe(case: Case, redteam: dict[str, FileResult]) -> None:
    result = redteam[case.id]
    assert result.scan is not None and result.scan.error is None
    assert result.verdict != "safe", describe(result)


def test_dos_files_are_what_they_claim(redteam: dict[str, FileResult]) -> None:
    """The 1 TiB files make torch try the allocation; the colliding keys all hash alike."""
    for variant in ("legacy-1tib-storage", "legacy-1tib-unreferenced-storage"):
        loads = redteam[f"dos/{variant}/none"].loads
        for name in ("torch.load(weights_only)", "torch.load"):
            error = loads[name].error or ""
            assert "alloc" in error.lower() or "memory" in error.lower(), (variant, name, error)
    keys = colliding_ints()
    assert len(set(keys)) == len(keys)
    assert {hash(k) for k in keys} == {0} and all(k % HASH_MODULUS == 0 for k in keys)


@pytest.fixture(scope="session")
def check_report(redteam: dict[str, FileResult], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``torchvet check --format json`` over a folder of the check-by-content files."""
    files = {c.id: (redteam[c.id].path, c.name) for c in CHECK_CASES if c.id in redteam}
    exit_code, models = run_check(files, tmp_path_factory.mktemp("check-folder"))
    return {"exit": exit_code, "by_case": models}


@pytest.mark.parametrize("case", params(CHECK_CASES, known_misses.CHECK))
def test_check_reports_crafted_pickles_whatever_their_name(
    case: Case, redteam: dict[str, FileResult], check_report: dict
) -> None:
    assert redteam[case.id].fired_by, "broken generator"
    model = check_report["by_case"][case.id]
    assert model is not None, f"torchvet check did not report {case.name} ({case.id})"
    assert model["verdict"] != "safe"
    assert check_report["exit"] == 1
