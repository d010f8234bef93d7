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
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from benchmarks.results_file import replace_section  # noqa: E402
from tests.redteam.cases import FAMILIES, Case, all_cases  # noqa: E402
from tests.redteam.loaders import LOADERS, NOT_SAFE, FileResult, run_all, run_check  # noqa: E402

DOS_LOADERS = ("torch.load(weights_only)", "pickle.load")
SHORT = {
    "torch.load(weights_only)": "torch.load(wo)",
    "pickle._Unpickler": "pickle.py",
    "pickle.load_all": "load_all",
}


def short(names: list[str]) -> str:
    """Loader names for a table cell; guarded loads as one "guard(...)" item."""
    plain = [SHORT.get(n, n) for n in names if not n.startswith("guard:")]
    guarded = [SHORT.get(n[6:], n[6:]) for n in names if n.startswith("guard:")]
    if guarded:
        plain.append(f"guard({', '.join(guarded)})")
    return ", ".join(plain) or "-"


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
    """One row per variant (its payloads together) with a miss or a protected firing."""
    rows = [
        "| class | family/variant | payloads | executed by | torchvet verdict (CLI exit) "
        "| guard/load fired |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    groups: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        r = results[case.id]
        if is_miss(case, r) or r.protected_fired:
            groups[case.id.rsplit("/", 1)[0]].append(case)
    for variant, members in groups.items():
        res = [results[c.id] for c in members]
        payloads = ", ".join(c.id.rsplit("/", 1)[1] for c in members)
        fired = _union(r.fired_by for r in res) if members[0].payload else _dos_cost(res[0])
        verdicts = ", ".join(
            sorted({f"{r.verdict} ({r.scan.extra.get('cli_exit')})" for r in res if r.scan})
        )
        protected = _union(r.protected_fired for r in res)
        rows.append(
            f"| {members[0].klass} | `{variant}` | {payloads} | {fired} | {verdicts} | {protected} |"
        )
    return rows


def _union(lists: Iterable[list[str]]) -> str:
    seen: list[str] = []
    for names in lists:
        seen += [n for n in names if n not in seen]
    return short(seen)


def _dos_cost(result: FileResult) -> str:
    parts = []
    for name in DOS_LOADERS:
        run_ = result.loads.get(name)
        if run_ is not None:
            what = "timeout" if run_.timed_out else (run_.error or "ok").split(":")[0]
            parts.append(f"{SHORT.get(name, name)} {run_.seconds:.1f}s {what}")
    return "load: " + "; ".join(parts)


def check_misses(cases: list[Case], results: dict[str, FileResult], folder: Path) -> dict:
    """Check-by-content cases that ``torchvet check`` does not report as non-safe."""
    chosen = [c for c in cases if c.family == "check-by-content" and results[c.id].fired_by]
    files = {c.id: (results[c.id].path, c.name) for c in chosen}
    if not files:
        return {}
    _exit, models = run_check(files, folder)
    misses = {}
    for case in chosen:
        model = models[case.id]
        if model is None or model["verdict"] == "safe":
            misses[case.id] = "not reported" if model is None else "reported as safe"
    return misses


def known_misses(cases: list[Case], results: dict[str, FileResult], check: dict) -> str:
    """The dicts of tests/redteam/known_misses.py for this run."""
    out = {"SCAN": {}, "PROTECTED": {}, "DOS": {}, "CHECK": {}}
    for case in cases:
        r, fam = results[case.id], FAMILIES[case.family]
        head = f"issue 8 class {fam.klass}: {fam.title}"
        if not case.payload:
            if r.verdict == "safe":
                out["DOS"][case.id] = f"{head}; rated safe"
            continue
        if r.fired_by and (r.verdict not in NOT_SAFE or r.scan.extra.get("cli_exit") != 1):
            out["SCAN"][case.id] = f"{head}; {r.verdict} although {short(r.fired_by[:3])} run it"
        if r.protected_fired:
            out["PROTECTED"][case.id] = f"{head}; {short(r.protected_fired[:3])} run it"
    for cid, why in check.items():
        klass = FAMILIES["check-by-content"]
        out["CHECK"][cid] = f"issue 8 class {klass.klass}: {klass.title}; {why}"
    lines = []
    for name, entries in out.items():
        lines.append(f"{name}: dict[str, str] = {{")
        lines += [f"    {cid!r}: {why!r}," for cid, why in sorted(entries.items())]
        lines.append("}")
    return "\n".join(lines)


def slowest_alone(cases: list[Case], results: dict[str, FileResult], folder: Path) -> str:
    """The slowest scan of the run, timed again with nothing else running."""
    scanned = [c for c in cases if results[c.id].scan is not None]
    if not scanned:
        return ""
    worst = max(scanned, key=lambda c: results[c.id].scan.seconds)  # type: ignore[union-attr]
    folder.mkdir(parents=True)
    path = worst.write(folder)
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "torchvet", "scan", str(path)], capture_output=True, check=False
    )
    alone = time.monotonic() - start
    size = path.stat().st_size if path.is_file() else 0
    return (
        f"The slowest, `{worst.id}` ({size:,} bytes), scans in {alone:.2f} s alone "
        f"({results[worst.id].scan.seconds:.2f} s in the run)."  # type: ignore[union-attr]
    )


def unfired(cases: list[Case], results: dict[str, FileResult]) -> list[str]:
    return [c.id for c in cases if c.payload and not results[c.id].fired_by]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeded", action="store_true", help="the test suite's subset only")
    p.add_argument("--family", action="append", help="only these families")
    p.add_argument("--write", type=Path, help="replace the 'redteam' section of this file")
    p.add_argument("--json", type=Path, help="write every result to this file")
    p.add_argument(
        "--known-misses", type=Path, help="write the dicts of tests/redteam/known_misses.py here"
    )
    args = p.parse_args()
    cases = [c for c in all_cases(full=not args.seeded) if c.available]
    if args.family:
        cases = [c for c in cases if c.family in args.family]
    start, load_before = time.monotonic(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="redteam-bench-") as tmp:
        results = run(cases, Path(tmp) / "files")
        check = check_misses(cases, results, Path(tmp) / "check")
        slowest = slowest_alone(cases, results, Path(tmp) / "alone")
    elapsed = time.monotonic() - start
    loads = sum(len(r.loads) for r in results.values())
    command = "python benchmarks/redteam.py" + (" --seeded" if args.seeded else "")
    lines = [
        "## redteam",
        "",
        f"`{command} --write benchmarks/RESULTS.md` ({len(cases)} files, {loads} loads "
        f"in forked children, {elapsed:.0f} s wall on 2 cores, load average "
        f"{load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end). A miss is a file that some "
        "real loader executes (or, for `dos`, that a load cannot finish cheaply) and that "
        "torchvet rates anything but unknown/dangerous (`dos`: rated safe).",
        "",
        *family_rows(cases, results),
        "",
        "max scan s is `torchvet scan`'s wall time while the loaders run beside it. " + slowest,
        "",
        "Misses and protected loads that fired:",
        "",
        *miss_rows(cases, results),
    ]
    if check:
        variants = sorted({c.rsplit("/", 1)[0] for c in check})
        lines += ["", "Not reported by `torchvet check`: " + ", ".join(f"`{v}`" for v in variants)]
    broken = unfired(cases, results)
    if broken:
        lines += ["", "Cases no loader executes (broken generators): " + ", ".join(broken)]
    text = "\n".join(lines)
    print(text)
    if args.write:
        replace_section(args.write, "redteam", text)
    if args.known_misses:
        args.known_misses.write_text(known_misses(cases, results, check) + "\n")
    if args.json:
        args.json.write_text(json.dumps({cid: _as_json(r) for cid, r in results.items()}, indent=1))
    return 0


def _as_json(result: FileResult) -> dict:
    return {
        "fired_by": result.fired_by,
        "protected_fired": result.protected_fired,
        "verdict": result.verdict,
        "scan": None
        if result.scan is None
        else {
            **result.scan.extra,
            "error": result.scan.error,
            "seconds": result.scan.seconds,
            "maxrss_kib": result.scan.maxrss_kib,
        },
        "loads": {
            n: {"fired": r.fired, "error": r.error, "timed_out": r.timed_out, "seconds": r.seconds}
            for n, r in result.loads.items()
        },
    }


if __name__ == "__main__":
    sys.exit(main())
