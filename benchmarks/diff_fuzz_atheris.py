"""Coverage-guided differential fuzzing with atheris (libFuzzer) — optional, not in CI.

    pip install atheris==3.0.0
    python benchmarks/diff_fuzz_atheris.py [--seeds 2000] [libFuzzer flags, e.g. -runs=200000]

Same oracle as benchmarks/diff_fuzz.py (tests/decoder/oracle.py), but libFuzzer mutates
the bytes, guided by line coverage of torchvet's pickle reader and of the pure-Python
``pickle`` module (the C unpickler is not instrumented). The corpus starts from streams
of the grammar (tests/decoder/grammar.py), written to benchmarks/.work/atheris-corpus.
A divergence raises, and libFuzzer saves the input as crash-<sha1> in the working
directory.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import atheris  # noqa: E402

from tests.decoder.difffuzz import limit_process  # noqa: E402

with atheris.instrument_imports(include=["torchvet", "pickle", "_compat_pickle"]):
    import pickle  # noqa: F401

    from tests.decoder.oracle import check

CORPUS = ROOT / "benchmarks" / ".work" / "atheris-corpus"


class Divergence(Exception):
    pass


def test_one_input(data: bytes) -> None:
    found = check(data)
    if found:
        raise Divergence("; ".join(f"{d.kind}: {d.detail}" for d in found))


def write_seeds(count: int) -> None:
    from tests.decoder.grammar import StreamGen

    CORPUS.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (CORPUS / f"seed-{index:05d}").write_bytes(StreamGen(10**9 + index).stream())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--seeds", type=int, default=2000)
    args, rest = parser.parse_known_args()
    limit_process()
    write_seeds(args.seeds)
    atheris.Setup([sys.argv[0], *rest, str(CORPUS)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
