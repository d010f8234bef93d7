"""Run fickling's public scanning API over local files; print one JSON report.

fickling's CLI (``fickling --check-safety FILE``) reads its input as raw stacked pickles,
so on a torch.save zip it stops at "No pickle files detected" and never looks inside.
Its library API does open zips (``fickling.scan_zip_archive`` scans the ``*.pkl``
members). This driver runs inside fickling's own venv and calls that API, so fickling
is also measured the way its library users would run it. No project code is imported.

Usage: python fickling_scan.py PATH...   (directories are walked recursively)
"""

from __future__ import annotations

import json
import os
import sys

import fickling
from fickling.analysis import Severity


def _files(paths: list[str]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, names in os.walk(path):
                found.extend(os.path.join(root, n) for n in sorted(names))
        else:
            found.append(path)
    return found


def _scan(path: str) -> dict[str, object]:
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == b"PK\x03\x04"
    if is_zip:
        members = fickling.scan_zip_archive(path, graceful=True)
        results = list(members.values())
    else:
        results = [fickling.scan_file(path, graceful=True)]
    severity = max((r.severity for r in results), key=lambda s: s.value[0], default=None)
    return {
        "path": path,
        "container": "zip" if is_zip else "pickle",
        "members_scanned": len(results),
        "severity": severity.name if severity else None,
        "unsafe": any(r.severity.value[0] > Severity.LIKELY_SAFE.value[0] for r in results),
        "errors": [e for r in results for e in r.errors],
    }


def main() -> int:
    report = {"fickling_version": fickling.__version__, "files": []}
    for path in _files(sys.argv[1:]):
        try:
            report["files"].append(_scan(path))
        except Exception as exc:  # report per file; one bad file must not hide the rest
            report["files"].append({"path": path, "exception": f"{type(exc).__name__}: {exc}"})
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
