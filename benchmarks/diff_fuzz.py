"""Differential fuzzing of torchvet's pickle decoder against CPython's own unpicklers.

    python benchmarks/diff_fuzz.py [--streams 1000000] [--jobs 2] [--seed 0]
                                   [--results benchmarks/RESULTS.md]

Generates pickle streams with tests/decoder/grammar.py and loads each with the C and the
pure-Python unpicklers over several file objects, recording every find_class (refused,
or answered with an inert stub), then checks that torchvet saw every global they
resolved, read every pickle they finished, and never rated safe a stream that resolves
a name outside torch's allowlist (tests/decoder/oracle.py). Batches run in worker
processes with a capped address space (tests/decoder/difffuzz.py). Prints progress and
a summary; with --results, replaces the "differential fuzz" section there.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from benchmarks.results_file import replace_section  # noqa: E402
from tests.decoder.difffuzz import limit_process, run_batch  # noqa: E402

TITLE = "differential fuzz"
# Divergence classes this fuzzer (and the probes that followed them) found in torchvet's
# reader and that are fixed; each has a regression test in tests/decoder/test_readings.py.
FIXED = (
    "INT read as `int(x, 0)` only: C's `strtol` reads leading-zero octal (`I010` = 8), "
    "signs, whitespace and stops at a NUL (`I5\\0junk`)",
    "PUT/GET read as INT (base 0, `00` a bool): both unpicklers read base 10 (`p010` = 10), "
    "C up to a NUL",
    "LONG and FLOAT: C stops at a NUL; Python's `float()` takes whitespace, `_`, `1e999`",
    "decimal literals over the int digit limit stopped the reader (a loader may lift it)",
    "FRAME longer than the data stopped the reader; the pure-Python unpickler (joblib) reads on",
    "STOP inside a frame: the next pickle.load (pure Python, C over BytesIO) starts at the "
    "frame's end, which was never scanned",
    "the C unpickler over a file object that read(n)-buffers a frame (BytesIO: "
    "torch.load(weights_only=False) of a zip; zip members over 512 bytes; BufferedReader "
    "blocks) reads across the frame's end from the file: other strings, GLOBAL lines and "
    "nested frames, and other pickles after it; a zip checkpoint torch.load runs was "
    "`unsupported`",
    "INST: pickle.py imports the class before it looks for the MARK",
    "an unterminated last GLOBAL/INST line: pickle.py drops its last byte and imports it",
    "NEXT_BUFFER stopped the reader (a loader passing buffers= reads on)",
    "below protocol 3, pickle's fix_imports maps more Python 2 names than torch "
    "(`commands.getoutput` is `subprocess.getoutput`)",
    "crash: BUILD on an OrderedDict made by OBJ/NEWOBJ_EX (models assumed a dict value)",
)


def _batch(job: tuple[int, int, int]) -> dict:
    return run_batch(*job)


def fuzz(streams: int, jobs: int, seed: int, batch: int) -> tuple[dict, float]:
    tasks = [(seed, first, min(batch, streams - first)) for first in range(0, streams, batch)]
    stats: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    examples: list[dict] = []
    started = time.perf_counter()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(jobs, initializer=limit_process) as pool:
        for report in pool.imap_unordered(_batch, tasks):
            stats.update(report["stats"])
            classes.update(report["classes"])
            examples.extend(report["examples"])
            done = stats["streams"]
            rate = done / (time.perf_counter() - started)
            print(f"{done:>9} streams  {rate:7.0f}/s  divergences: {sum(classes.values())}",
                  file=sys.stderr, flush=True)  # fmt: skip
    elapsed = time.perf_counter() - started
    return {"stats": dict(stats), "classes": dict(classes), "examples": examples}, elapsed


def _commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return proc.stdout.strip() or "unknown"


def section(report: dict, elapsed: float, args: argparse.Namespace) -> str:
    stats = report["stats"]
    n = stats["streams"]
    lines = [
        f"## {TITLE}",
        "",
        f"Command: `python benchmarks/diff_fuzz.py --streams {args.streams} --jobs {args.jobs} "
        f"--seed {args.seed} --results benchmarks/RESULTS.md`",
        "",
        f"Machine: {platform.machine()}, {multiprocessing.cpu_count()} cores (shared), "
        f"Python {platform.python_version()}.",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| streams | {n} |",
        f"| wall time | {elapsed:.0f} s |",
        f"| streams/s ({args.jobs} workers) | {n / elapsed:.0f} |",
    ]
    for key in ("reached a global", "loaded to STOP", "read again as C over files"):
        lines.append(f"| streams where {key} | {stats.get(key, 0)} ({stats.get(key, 0) / n:.0%}) |")
    lines.append(f"| globals CPython resolved (all modes) | {stats.get('globals resolved', 0)} |")
    lines.append(f"| divergences | {sum(report['classes'].values())} |")
    for key, count in sorted(report["classes"].items()):
        lines.append(f"| divergence `{key}` | {count} |")
    lines += [
        "",
        f"Run on commit {_commit()}. Each stream is loaded by `_pickle` over a BufferedReader "
        "(8 and 4 KiB), over BytesIO and over a zip member, and by `pickle._Unpickler`, in "
        "stub mode and in refuse mode; the check is that torchvet records every global they "
        "resolve, ends a pickle wherever they do, and never rates safe a stream that resolves "
        "a name outside torch's allowlist.",
    ]
    lines += ["", "Divergence classes found and fixed (tests/decoder/test_readings.py):", ""]
    lines += [f"- {text}" for text in FIXED]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--results", type=Path, help="replace the section in this file")
    parser.add_argument("--examples", type=Path, help="write divergent streams here (JSON)")
    args = parser.parse_args()
    report, elapsed = fuzz(args.streams, args.jobs, args.seed, args.batch)
    text = section(report, elapsed, args)
    print(text)
    if args.examples:
        args.examples.write_text(json.dumps(report["examples"], indent=1))
    if args.results:
        replace_section(args.results, TITLE, text)
    return 1 if report["classes"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
