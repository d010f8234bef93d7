"""Red-team run (issue 8): every family at full size, every real loader, torchvet's verdict.

Writes each family's files (every variant with every payload; see tests/redteam/), loads
each with every loader of tests/redteam/worker.py in forked children (guard() again
for the unsafe loaders that fired) and scans it with torchvet.scan_file and
``torchvet scan``, then prints

* a per-family summary: files, files some loader executes, misses (an executed file
  rated anything but unknown/dangerous), guard()/torchvet.load/advice firings, and
  the slowest / largest scan;
* the miss list: family, variant, the loaders that execute it, torchvet's verdict.

Denial-of-service files (no payload) are loaded with torch.load(weights_only) and
pickle.load under a timeout, to show the load's cost beside the scan's.

Usage: python benchmarks/redteam.py [--seeded] [--family NAME ...] [--write benchmarks/RESULTS.md]
       [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from benchmarks.results_file import replace_section  # noqa: E402
from tests.redteam.cases import FAMILIES, Case, all_cases  # noqa: E402
from tests.redteam.loaders import LOADERS, NOT_SAFE, FileResult, run_all  # noqa: E402

DOS_LOADERS = ("torch.load(weights_only)", "pickle.load")
SHORT = {
    "torch.load(weights_only)": "torch.load(wo)",
    "pickle._Unpickler": "pickle.py",
    "pickle.load_all": "load_all",
}


def short(names: list[str]) -> str:
    return ", ".join(SHORT.get(n, n) for n in names) or "-"


def run(cases: list[Case], folder: Path) -> dict[str, FileResult]:
    jobs = []
    for case in cases:
        loaders = DOS_LOADERS if not case.payload else (case.loaders or LOADERS)
        jobs.append((case.write(folder), loaders))
    by_path = run_all(jobs)
    return {case.id: by_path[path] for case, (path, _) in zip(cases, jobs, strict=True)}


def is_miss(case: Case, result: FileResult) -> bool:
    if not case.payload:
        return result.verdict == "safe"
    return bool(result.fired_by) and result.verdict not in NOT_SAFE


def family_rows(cases: list[Case], results: dict[str, FileResult]) -> list[str]:
    rows = [
        "| family | class | files | executed | missed | guard/load fired | max scan s | max scan RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    by_family: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_family[case.family].append(case)
    for name, members in by_family.items():
        res = [results[c.id] for c in members]
        executed = sum(bool(r.fired_by) for r in res)
        missed = sum(is_miss(c, results[c.id]) for c in members)
        protected = sum(bool(r.protected_fired) for r in res)
        scans = [r.scan for r in res if r.scan is not None]
        worst_s = max((s.seconds for s in scans), default=0.0)
        worst_rss = max((s.maxrss_kib for s in scans), default=0) / 1024
        rows.append(
            f"| {name} | {FAMILIES[name].klass} | {len(members)} | {executed} | {missed} "
            f"| {protected} | {worst_s:.2f} | {worst_rss:.0f} |"
        )
    return rows


def miss_rows(cases: list[Case], results: dict[str, FileResult]) -> list[str]:
    rows = [
        "| class | case | executed by | torchvet verdict (CLI exit) | guard/load fired |",
        "| --- | --- | --- | --- | --- |",
    ]
    for case in cases:
        r = results[case.id]
        if not (is_miss(case, r) or r.protected_fired):
            continue
        scan = r.scan.extra if r.scan else {}
        verdict = f"{r.verdict} ({scan.get('cli_exit')})" if r.scan and not r.scan.error else f"error: {r.scan.error if r.scan else '-'}"
        fired = short(r.fired_by) if case.payload else _dos_cost(r)
        rows.append(
            f"| {case.klass} | `{case.id}` | {fired} | {verdict} | {short(r.protected_fired)} |"
        )
    return rows


def _dos_cost(result: FileResult) -> str:
    parts = []
    for name in DOS_LOADERS:
        run_ = result.loads.get(name)
        if run_ is not None:
            what = "timeout" if run_.timed_out else (run_.error or "ok").split(":")[0]
            parts.append(f"{SHORT.get(name, name)} {run_.seconds:.1f}s {what}")
    return "load: " + "; ".join(parts)


def unfired(cases: list[Case], results: dict[str, FileResult]) -> list[str]:
    return [c.id for c in cases if c.payload and not results[c.id].fired_by]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeded", action="store_true", help="the test suite's subset only")
    p.add_argument("--family", action="append", help="only these families")
    p.add_argument("--write", type=Path, help="replace the 'redteam' section of this file")
    p.add_argument("--json", type=Path, help="write every result to this file")
    args = p.parse_args()
    cases = [c for c in all_cases(full=not args.seeded) if c.available]
    if args.family:
        cases = [c for c in cases if c.family in args.family]
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="redteam-bench-") as tmp:
        results = run(cases, Path(tmp))
    elapsed = time.monotonic() - start
    loads = sum(len(r.loads) for r in results.values())
    command = "python benchmarks/redteam.py" + (" --seeded" if args.seeded else "")
    lines = [
        "## redteam",
        "",
        f"`{command} --write benchmarks/RESULTS.md` ({len(cases)} files, {loads} loads "
        f"in forked children, {elapsed:.0f} s wall on 2 cores). A miss is a file that some "
        "real loader executes (or, for `dos`, that a load cannot finish cheaply) and that "
        "torchvet rates anything but unknown/dangerous (`dos`: rated safe).",
        "",
        *family_rows(cases, results),
        "",
        "Misses and protected loads that fired:",
        "",
        *miss_rows(cases, results),
    ]
    broken = unfired(cases, results)
    if broken:
        lines += ["", "Cases no loader executes (broken generators): " + ", ".join(broken)]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(args.write, "redteam", text)
    if args.json:
        args.json.write_text(json.dumps({cid: _as_json(r) for cid, r in results.items()}, indent=1))
    return 0


def _as_json(result: FileResult) -> dict:
    return {
        "fired_by": result.fired_by,
        "protected_fired": result.protected_fired,
        "verdict": result.verdict,
        "scan": None if result.scan is None else {**result.scan.extra, "error": result.scan.error, "seconds": result.scan.seconds, "maxrss_kib": result.scan.maxrss_kib},
        "loads": {n: {"fired": r.fired, "error": r.error, "timed_out": r.timed_out, "seconds": r.seconds} for n, r in result.loads.items()},
    }


if __name__ == "__main__":
    sys.exit(main())
