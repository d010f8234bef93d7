"""SARIF 2.1.0 for scan results: one rule per verdict, one result per non-safe file."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from torchvet.report.sarif import PROJECT_URI, SarifResult, SarifRule, torchvet_log
from torchvet.report.scan_text import ADVICE
from torchvet.results import ScanResult, Verdict

LEVEL = {
    Verdict.NEEDS_ALLOWLIST: "warning",
    Verdict.UNSUPPORTED: "note",
    Verdict.NOT_A_MODEL: "note",
    Verdict.UNKNOWN: "warning",
    Verdict.MALFORMED: "error",
    Verdict.DANGEROUS: "error",
}


def rule_id(verdict: Verdict) -> str:
    return f"TVS-{verdict.value}"


def scan_rules() -> list[SarifRule]:
    return [
        SarifRule(
            id=rule_id(v),
            name=v.value.replace("-", " ").title().replace(" ", ""),
            short_description=f"model file verdict: {v.value}",
            full_description=ADVICE[v],
            help_uri=f"{PROJECT_URI}/blob/main/docs/verdicts.md",
            level=LEVEL[v],
        )
        for v in Verdict
        if v is not Verdict.SAFE
    ]


def scan_results(results: list[ScanResult]) -> list[SarifResult]:
    """One result per file that is not safe, pointing at the file."""
    out = []
    for r in results:
        if r.verdict is Verdict.SAFE:
            continue
        reasons = [f.message for f in r.findings if f.verdict is r.verdict][:5]
        text = f"{r.verdict.value}: {ADVICE[r.verdict]}"
        if reasons:
            text += " — " + "; ".join(reasons)
        out.append(
            SarifResult(
                rule_id=rule_id(r.verdict),
                message=text,
                uri=PurePath(r.path).as_posix(),
                level=LEVEL[r.verdict],
                properties={"format": r.format, "findings": [f.to_json() for f in r.findings]},
            )
        )
    return out


def scan_sarif(results: list[ScanResult]) -> dict[str, Any]:
    return torchvet_log(scan_rules(), scan_results(results))
