"""Generate the big and small state_dict checkpoints for the size benchmark.

Run with a Python that has torch (the harness uses the torchvet venv's). Files are
written once into the given directory and reused when present with the expected size.

Usage: python benchmarks/checkpoints.py OUT_DIR --big-mb 1536
prints the two paths (big first) on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

SMALL_BYTES = 400 * 1024


def _state_dict(total_bytes: int, tensor_bytes: int) -> dict[str, object]:
    """A dict of float32 tensors adding up to ``total_bytes`` (like a model's state_dict)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    sd: dict[str, object] = {}
    remaining, i = total_bytes, 0
    while remaining > 0:
        numel = min(tensor_bytes, remaining) // 4
        sd[f"layers.{i}.weight"] = torch.rand(numel, generator=gen)
        remaining -= numel * 4
        i += 1
    return sd


def ensure(out: Path, big_mb: int) -> tuple[Path, Path]:
    """Create (if missing) and return (big, small) checkpoint paths."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    specs = [
        (out / f"state_dict_{big_mb}MB.pt", big_mb * 1024 * 1024, 16 * 1024 * 1024),
        (out / "state_dict_400kB.pt", SMALL_BYTES, 32 * 1024),
    ]
    for path, total, per_tensor in specs:
        # Reuse a previous file when its size is within 1% (+ zip overhead) of the target.
        if path.exists() and abs(path.stat().st_size - total) < total // 100 + 64 * 1024:
            continue
        tmp = path.with_suffix(".tmp")
        torch.save(_state_dict(total, per_tensor), tmp)
        tmp.replace(path)
    return specs[0][0], specs[1][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--big-mb", type=int, default=1536)
    args = parser.parse_args()
    big, small = ensure(args.out, args.big_mb)
    print(big)
    print(small)


if __name__ == "__main__":
    main()
