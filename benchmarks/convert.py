"""Convert benchmark: torchvet convert vs torch.load + safetensors.save_file vs cp.

Builds (once) a ~1.5 GB torch zip checkpoint shaped like a transformer state_dict
(float32 and bfloat16 matrices, a few transposed views), then runs each route as a
whole process, page cache warm, median of N runs. Reports wall time, peak RSS (GNU
time %M), torchvet's RSS as a share of the file size and its throughput relative to
copying the file.

Usage: python benchmarks/convert.py [--dir DIR] [--size-mb 1536] [--repeats 3]
       [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import os
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


def build(path: Path, size_mb: int) -> None:
    import torch

    gen = torch.Generator().manual_seed(0)
    sd: dict[str, object] = {}
    total, i = size_mb << 20, 0
    while total > 0:
        d = 2048
        w = torch.rand(d, d, generator=gen)  # 16 MiB
        if i % 8 == 3:
            w = w.t()  # a non-contiguous view: gathered, not copied
        elif i % 8 == 5:
            w = w.to(torch.bfloat16)
        sd[f"layers.{i}.weight"] = w
        sd[f"layers.{i}.bias"] = torch.rand(d, generator=gen)
        total -= w.numel() * w.element_size() + d * 4
        i += 1
    tmp = path.with_suffix(".tmp")
    torch.save(sd, tmp)
    tmp.replace(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("/tmp/torchvet-bench"))
    p.add_argument("--size-mb", type=int, default=1536)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument(
        "--append", type=Path, help="write (or replace) the ## convert section of this file"
    )
    args = p.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    src = args.dir / f"convert_{args.size_mb}MB.pt"
    if not src.exists():
        build(src, args.size_mb)
    size = src.stat().st_size
    out = args.dir / "out.safetensors"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    routes = {
        "cp (baseline)": ["cp", str(src), str(out)],
        # torchvet fsyncs before its rename (an atomic write must survive a crash).
        "cp + fsync (baseline)": ["sh", "-c", 'cp "$0" "$1" && sync "$1"', str(src), str(out)],
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
    measure.run(["cat", str(src)], timeout_s=600)  # warm the page cache
    rows = {}
    for name, argv in routes.items():
        walls, rss = [], []
        for _ in range(args.repeats):
            if out.exists():
                out.unlink()
            res = measure.run(argv, timeout_s=1800, env=env)
            if res.returncode != 0:
                sys.exit(f"{name} failed: {res.stderr[-2000:]}")
            walls.append(res.wall_s)
            rss.append(res.max_rss_kib)
        rows[name] = (statistics.median(walls), max(rss))
    out.unlink(missing_ok=True)
    cp_wall = rows["cp (baseline)"][0]
    cps_wall = rows["cp + fsync (baseline)"][0]
    tv_wall, tv_rss = rows["torchvet convert"]
    th_wall, th_rss = rows["torch.load + save_file"]
    lines = [
        "## convert",
        "",
        f"`python benchmarks/convert.py --size-mb {args.size_mb} --repeats {args.repeats}` "
        f"(checkpoint {size / 2**20:.0f} MiB: {args.size_mb // 16} 2048x2048 matrices, 1 in 8 "
        "transposed, 1 in 8 bfloat16; page cache warm; median wall of "
        f"{args.repeats} runs, peak RSS = GNU time %M)",
        "",
        "| route | wall s | MB/s | peak RSS MiB | RSS / file size |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, (wall, kib) in rows.items():
        lines.append(
            f"| {name} | {wall:.2f} | {size / 2**20 / wall:.0f} | {kib / 1024:.0f} | "
            f"{kib * 1024 / size:.1%} |"
        )
    lines += [
        "",
        f"torchvet: peak RSS {tv_rss * 1024 / size:.1%} of the file (goal <= 10%); throughput "
        f"{cp_wall / tv_wall:.0%} of cp, {cps_wall / tv_wall:.0%} of cp + fsync (goal >= 80%); "
        f"{th_wall / tv_wall:.1f}x faster and "
        f"{th_rss / tv_rss:.1f}x less memory than torch.load + save_file.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        replace_section(args.append, "convert", text)


if __name__ == "__main__":
    main()
