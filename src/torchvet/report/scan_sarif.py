"""SARIF 2.1.0 for scan results: one result per non-safe file, one rule per verdict."""

from __future__ import annotations

from typing import Any

from torchvet import __version__
from torchvet.report.scan_text import ADVICE
from torchvet.results import ScanResult, Verdict

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVEL = {
    Verdict.NEEDS_ALLOWLIST: "warning",
    Verdict.UNSUPPORTED: "note",
    Verdict.UNKNOWN: "warning",
    Verdict.MALFORMED: "error",
    Verdict.DANGEROUS: "error",
}


def rule_id(verdict: Verdict) -> str:
    return f"TVS-{verdict.value}"


def scan_rules() -> list[dict[str, Any]]:
    return [
        {
            "id": rule_id(v),
            "name": v.value.replace("-", " ").title().replace(" ", ""),
            "shortDescription": {"text": f"model file verdict: {v.value}"},
            "fullDescription": {"text": ADVICE[v]},
            "defaultConfiguration": {"level": LEVEL[v]},
            "helpUri": "https://github.com/torchvet/torchvet/blob/main/docs/verdicts.md",
        }
        for v in Verdict
        if v is not Verdict.SAFE
    ]


def scan_result_objects(results: list[ScanResult]) -> list[dict[str, Any]]:
    out = []
    for r in results:
        if r.verdict is Verdict.SAFE:
            continue
        reasons = [f.message for f in r.findings if f.verdict is r.verdict][:5]
        text = f"{r.verdict.value}: {ADVICE[r.verdict]}"
        if reasons:
            text += " — " + "; ".join(reasons)
        out.append(
            {
                "ruleId": rule_id(r.verdict),
                "level": LEVEL[r.verdict],
                "message": {"text": text},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.path}}}],
                "properties": {"format": r.format, "findings": [f.to_json() for f in r.findings]},
            }
        )
    return out


def scan_sarif(results: list[ScanResult]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "torchvet",
                        "version": __version__,
                        "informationUri": "https://github.com/torchvet/torchvet",
                        "rules": scan_rules(),
                    }
                },
                "results": scan_result_objects(results),
            }
        ],
    }
