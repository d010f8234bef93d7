"""One batch of the differential fuzzer: generated streams through CPython and torchvet.

    python -m tests.decoder.difffuzz --seed 1 --first 0 --count 5000

prints a JSON report (streams, how many reached a global or loaded to STOP in CPython,
how many needed torchvet's frame readings, and every divergence with its stream).
Run as a module it first caps the address space: CPython allocates what BYTEARRAY8,
BINBYTES8 and LONG_BINPUT declare before reading, and the generator's byte flips can
declare gigabytes. ``benchmarks/diff_fuzz.py`` runs many batches on all cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from collections import Counter

ADDRESS_SPACE = 2 << 30  # bytes
MAX_EXAMPLES = 5  # per divergence class


def limit_process() -> None:
    """Address-space cap, scanner bugs as exceptions, and quiet CPython noise (an
    unraisable SystemError when a memoryview outlives a bytearray under BUILD)."""
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    os.environ["TORCHVET_DEBUG"] = "1"
    sys.unraisablehook = lambda unraisable: None


def stream_seed(seed: int, index: int) -> int:
    return seed << 40 | index


def run_batch(seed: int, first: int, count: int) -> dict:
    from tests.decoder.grammar import StreamGen
    from tests.decoder.oracle import MODES, check_runs, run_loader, torchvet_view

    stats: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    examples: list[dict] = []
    for index in range(first, first + count):
        data = StreamGen(stream_seed(seed, index)).stream()
        runs = [run_loader(data, mode) for mode in MODES]
        stats["streams"] += 1
        stats["reached a global"] += any(r.globals for r in runs)
        stats["loaded to STOP"] += any(r.ends for r in runs)
        stats["globals resolved"] += sum(len(r.globals) for r in runs)
        try:
            view = torchvet_view(data)
        except Exception as exc:  # TORCHVET_DEBUG: an internal error is a finding
            divergences = [("crash", f"{type(exc).__name__}: {exc}")]
        else:
            stats["read again as C over files"] += view.alternates > 0
            divergences = [(d.kind, d.detail) for d in check_runs(runs, view)]
        for kind, detail in divergences:
            key = f"{kind}: {detail.split(' ', 1)[0]}"
            classes[key] += 1
            if classes[key] <= MAX_EXAMPLES:
                examples.append(
                    {"class": key, "detail": detail, "index": index, "data": data[:400].hex()}
                )
    return {"seed": seed, "stats": dict(stats), "classes": dict(classes), "examples": examples}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args(argv)
    limit_process()
    json.dump(run_batch(args.seed, args.first, args.count), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
