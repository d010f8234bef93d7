"""Worst-case scan time over mutated checkpoints and pickles (the fuzz budget: < 1 s each).

    python benchmarks/fuzz_timing.py [--mutants 3000] [--append benchmarks/RESULTS.md]

Builds the test corpus (scripts/build_corpus.py, no oracle), mutates its benign files the
way tests/differential/test_fuzz.py does, and times every scan in this process. Timing lives here,
not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.differential.test_fuzz import _mutate, _mutate_pickle  # noqa: E402
from torchvet.scan import scan_bytes  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=int, default=3000)
    parser.add_argument("--append", type=Path, help="replace the '## fuzz timing' section here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "build_corpus.py"), tmp, "--no-oracle"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        manifest = json.loads((Path(tmp) / "manifest.json").read_text())
        bases = [(Path(tmp) / r["path"]).read_bytes() for r in manifest if r["kind"] == "benign"]
        bases = [b for b in bases if b]  # the empty-file fixture cannot be mutated
    rng = random.Random(1)
    times = []
    worst = ("", 0.0)
    for i in range(args.mutants):
        base = bases[i % len(bases)]
        mutant = _mutate(base, rng) if i % 2 else _mutate_pickle(base, rng)
        t0 = time.perf_counter()
        scan_bytes(mutant)
        dt = time.perf_counter() - t0
        times.append(dt)
        if dt > worst[1]:
            worst = (f"mutant {i} of a {len(base)}-byte file", dt)
    times.sort()
    p50, p99, mx = times[len(times) // 2], times[int(len(times) * 0.99)], times[-1]
    lines = [
        "## fuzz timing",
        "",
        f"Command: `python benchmarks/fuzz_timing.py --mutants {args.mutants}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f} at the end.",
        "",
        f"{args.mutants} mutants of the {len(bases)} benign corpus files (half anywhere in the file, "
        "half inside data.pkl), each scanned in-process:",
        "",
        "| median | 99th percentile | worst | budget |",
        "| ---: | ---: | ---: | ---: |",
        f"| {p50 * 1000:.2f} ms | {p99 * 1000:.2f} ms | {mx * 1000:.2f} ms ({worst[0]}) | 1000 ms |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        from benchmarks.results_file import replace_section

        replace_section(args.append, "fuzz timing", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
