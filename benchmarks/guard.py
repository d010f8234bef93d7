"""Guard overhead: torch.load of a 100-tensor state_dict with and without torchvet.guard.

In one process, alternating rounds (unguarded, guarded) so drift hits both equally;
each round times one load and the medians are compared. Both weights_only=False
(where the guard's hook runs for every global) and weights_only=True are measured.

Usage: python benchmarks/guard.py [--rounds 300] [--append benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results_file import replace_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=300)
    p.add_argument("--append", type=Path)
    args = p.parse_args()
    import torch

    import torchvet

    sd = {f"layer{i}.weight": torch.rand(64, 64) for i in range(100)}
    buf = io.BytesIO()
    torch.save(sd, buf)
    data = buf.getvalue()

    def once(weights_only: bool) -> float:
        start = time.perf_counter()
        torch.load(io.BytesIO(data), weights_only=weights_only)
        return time.perf_counter() - start

    rows = []
    for weights_only in (False, True):
        plain, guarded = [], []
        for _ in range(20):  # warm-up
            once(weights_only)
        for _ in range(args.rounds):
            plain.append(once(weights_only))
            with torchvet.guard():
                guarded.append(once(weights_only))
        a, b = statistics.median(plain), statistics.median(guarded)
        rows.append((weights_only, a, b))
    lines = [
        "## guard",
        "",
        f"`python benchmarks/guard.py --rounds {args.rounds}` (torch.load from memory of a "
        f"{len(data) / 2**20:.1f} MiB state_dict of 100 float32 64x64 tensors; median of "
        f"{args.rounds} alternating rounds)",
        "",
        "| torch.load | unguarded ms | guarded ms | overhead |",
        "| --- | --- | --- | --- |",
    ]
    for weights_only, a, b in rows:
        lines.append(
            f"| weights_only={weights_only} | {a * 1e3:.3f} | {b * 1e3:.3f} | {b / a - 1:+.1%} |"
        )
    lines += ["", "Goal: overhead <= 5%.", ""]
    text = "\n".join(lines)
    print(text)
    if args.append:
        replace_section(args.append, "guard", text)


if __name__ == "__main__":
    main()
