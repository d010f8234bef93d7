"""Convert benchmark: torchvet convert vs cp (+ fsync) vs torch.load + safetensors.save_file.

Builds (once) two ~1.5 GB torch zip checkpoints shaped like transformer state_dicts:

* ``contiguous``: float32 and bfloat16 2048x2048 matrices and their biases;
* ``transposed``: the same matrices saved as transposed views (``w.t()``), plus one
  8192x8192 transposed matrix (256 MiB, larger than the 10% memory budget: it is
  gathered block by block, never whole).

Each route runs as a whole process, page cache warm, median of N runs, on both files in
one run. Reports wall time, peak RSS (GNU time %M), RSS as a share of the file size and
throughput relative to cp + fsync (torchvet fsyncs before its atomic rename).

Usage: python benchmarks/convert.py [--dir DIR] [--size-mb 1536] [--repeats 3]
       [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import measure  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results_file import replace_section  # noqa: E402

TORCH_ROUTE = (
    "import sys, torch\n"
    "from safetensors.torch import save_file\n"
    "sd = torch.load(sys.argv[1], weights_only=True, map_location='cpu')\n"
    "save_file({k: v.contiguous() for k, v in sd.items()}, sys.argv[2])\n"
)
BIG = 8192  # the transposed file's one big matrix


def build(path: Path, size_mb: int, transposed: bool) -> None:
    import torch

    gen = torch.Generator().manual_seed(0)
    sd: dict[str, object] = {}
    total, i = size_mb << 20, 0
    if transposed:
        sd["big.weight"] = torch.rand(BIG, BIG, generator=gen).t()
        total -= BIG * BIG * 4
    while total > 0:
        d = 2048
        w = torch.rand(d, d, generator=gen)  # 16 MiB
        if i % 8 == 5:
            w = w.to(torch.bfloat16)
        sd[f"layers.{i}.weight"] = w.t() if transposed else w
        sd[f"layers.{i}.bias"] = torch.rand(d, generator=gen)
        total -= w.numel() * w.element_size() + d * 4
        i += 1
    tmp = path.with_suffix(".tmp")
    torch.save(sd, tmp)
    tmp.replace(path)


def routes(src: Path, out: Path) -> dict[str, list[str]]:
    return {
        "cp": ["cp", str(src), str(out)],
        "cp + fsync": ["sh", "-c", 'cp "$0" "$1" && sync "$1"', str(src), str(out)],
        "torchvet convert": [
            sys.executable,
            "-m",
            "torchvet",
            "convert",
            "-q",
            "--force",
            str(src),
            str(out),
        ],
        "torch.load + save_file": [sys.executable, "-c", TORCH_ROUTE, str(src), str(out)],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure_file(src: Path, out: Path, repeats: int) -> dict[str, tuple[float, float, int]]:
    """(median wall s, median CPU s, max peak RSS KiB) per route. Routes take turns in
    every round, so a change in machine load hits them alike."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    measure.run(["cat", str(src)], timeout_s=600)  # warm the page cache
    samples: dict[str, list[tuple[float, float, int]]] = {}
    for _ in range(repeats):
        for name, argv in routes(src, out).items():
            out.unlink(missing_ok=True)
            cpu = _children_cpu()
            res = measure.run(argv, timeout_s=1800, env=env)
            if res.returncode != 0:
                sys.exit(f"{name} failed: {res.stderr[-2000:]}")
            samples.setdefault(name, []).append(
                (res.wall_s, _children_cpu() - cpu, res.max_rss_kib)
            )
    out.unlink(missing_ok=True)
    return {
        name: (
            statistics.median(w for w, _, _ in runs),
            statistics.median(c for _, c, _ in runs),
            max(r for _, _, r in runs),
        )
        for name, runs in samples.items()
    }


def floor() -> dict[str, float]:
    """ns per element moved by the standard library's strided copies (the gather's floor),
    and by torchvet's gather of a transposed 2048x2048 float32 matrix held in memory."""
    import array
    import time

    sys.path.insert(0, str(REPO / "src"))  # this tree's torchvet, as the routes run it
    from torchvet.converter.gather import Scratch, gather_blocks

    n = 1 << 22
    src = array.array("I", bytes(8 * n))
    view, out = memoryview(src), memoryview(bytearray(4 * n)).cast("I")
    cases = {
        "memoryview strided assignment": lambda: out.__setitem__(slice(0, n), view[0 : 2 * n : 2]),
        "array strided slice": lambda: src[0 : 2 * n : 2],
    }
    d = 2048
    raw = memoryview(bytes(4 * d * d))

    def read(start: int, into: memoryview) -> None:
        into[:] = raw[start : start + len(into)]

    scratch = Scratch()
    cases["torchvet gather, transposed 2048x2048"] = lambda: [
        None for _ in gather_blocks(read, 4, 0, (d, d), (1, d), scratch)
    ]
    result = {}
    for name, run in cases.items():
        best = float("inf")
        for _ in range(5):
            start = time.process_time()
            run()
            best = min(best, time.process_time() - start)
        result[name] = best / n * 1e9
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("/tmp/torchvet-bench"))
    p.add_argument("--size-mb", type=int, default=1536)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--append", type=Path, help="write (or replace) the ## convert section")
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    out = args.dir / "out.safetensors"
    costs = floor()
    results = {}
    for kind in ("contiguous", "transposed"):
        src = args.dir / f"convert_{kind}_{args.size_mb}MB.pt"
        if not src.exists():
            build(src, args.size_mb, kind == "transposed")
        results[kind] = (src.stat().st_size, measure_file(src, out, args.repeats))
    text = report(args, results, costs)
    print(text)
    if args.append:
        replace_section(args.append, "convert", text)


def report(args: argparse.Namespace, results: dict, costs: dict[str, float]) -> str:
    lines = [
        "## convert",
        "",
        f"`python benchmarks/convert.py --size-mb {args.size_mb} --repeats {args.repeats}` "
        "(page cache warm; median wall of "
        f"{args.repeats} rounds, the routes taking turns in each; CPU = user + system time of "
        f"the process tree; peak RSS = GNU time %M; load average {os.getloadavg()[0]:.1f} "
        f"at the end, {os.cpu_count()} CPUs). *contiguous*: 2048x2048 float32 matrices (1 in "
        "8 bfloat16) and biases; *transposed*: the same matrices saved as `w.t()` plus one "
        f"{BIG}x{BIG} float32 `w.t()` (256 MiB).",
        "",
        "| file | route | wall s | CPU s | MB/s | peak RSS MiB | RSS / file | wall / (cp + fsync) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    summary = []
    for kind, (size, rows) in results.items():
        base = rows["cp + fsync"][0]
        for name, (wall, cpu, kib) in rows.items():
            lines.append(
                f"| {kind} | {name} | {wall:.2f} | {cpu:.2f} | {size / 2**20 / wall:.0f} "
                f"| {kib / 1024:.0f} | {kib * 1024 / size:.1%} | {wall / base:.2f}x |"
            )
        tv_wall, _, tv_rss = rows["torchvet convert"]
        summary.append(
            f"{kind}: torchvet takes {tv_wall / base:.2f}x the time of cp + fsync, peak RSS "
            f"{tv_rss * 1024 / size:.1%} of the file"
        )
    cont = results["contiguous"][1]["torchvet convert"][0] / results["contiguous"][0]
    trans = results["transposed"][1]["torchvet convert"][0] / results["transposed"][0]
    lines += [
        "",
        "; ".join(summary) + f"; transposed throughput {cont / trans:.0%} of contiguous.",
        "Goals: contiguous <= 1.25x cp + fsync; transposed >= 50% of that throughput; "
        "peak RSS <= 10% of the file.",
        "",
        "Transposed views are CPU-bound (CPU column): every element is moved by a strided "
        "copy, and the standard library's fastest one sets the floor (CPU ns per element, "
        "best of 5):",
        "",
        "| copy | ns / element |",
        "| --- | --- |",
        *(f"| {name} | {ns:.2f} |" for name, ns in costs.items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
