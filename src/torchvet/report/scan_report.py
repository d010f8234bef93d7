"""``torchvet scan``'s report in its three formats: text, JSON and SARIF."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, TextIO

from torchvet.results import ScanResult, Verdict


def scan_json(results: Iterable[ScanResult], torch_version: str) -> dict[str, Any]:
    """The JSON document: each file's result and advice, for the torch release predicted."""
    from torchvet.report.scan_text import advice_json

    files = [{**r.to_json(), **advice_json(r)} for r in results]
    return {"torch_version": torch_version, "files": files}


def write_scan_report(
    results: Iterable[ScanResult],
    out: TextIO,
    err: TextIO,
    fmt: str = "text",
    torch_version: str = "",
    notes: bool = False,
    quiet: bool = False,
    skipped: list[str] | None = None,
) -> bool:
    """Write the report (text as the results come); whether every file is safe."""
    if fmt == "text":
        from torchvet.report.scan_text import write_text

        skipped = skipped if skipped is not None else []
        counts = write_text(results, out, notes=notes, quiet=quiet, skipped=skipped)
        if not counts:
            others = f" ({len(skipped)} other files skipped)" if skipped else ""
            print(f"torchvet scan: no model files found{others}", file=err)
        return all(v is Verdict.SAFE for v in counts.elements())
    collected = list(results)
    if fmt == "json":
        doc = scan_json(collected, torch_version)
    else:
        from torchvet.report.scan_sarif import scan_sarif

        doc = scan_sarif(collected)
    json.dump(doc, out, indent=2)
    out.write("\n")
    return all(r.verdict is Verdict.SAFE for r in collected)
