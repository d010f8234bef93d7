"""The container readers against real torch on every corpus file they read.

safe <=> torch.load(weights_only=True) accepts the file; a malicious file whose payload
fires is never safe, needs-allowlist or unsupported.
"""

from __future__ import annotations

import collections
import random

import pytest

from tests.corpus import Corpus
from tests.support.results import assert_consistent
from torchvet.scan import scan_bytes, scan_file

# Corpus containers read by legacy.py, joblib_files.py, numpy_files.py, zipfamily.py
# (npz), safetensors_files.py, tarball.py and compressed.py.
CONTAINERS = frozenset(
    {"torch-legacy", "pickle", "joblib", "joblib-zlib", "npy", "npz", "safetensors", "tar", "gzip"}
)
MILD = {"safe", "needs-allowlist", "unsupported"}


@pytest.fixture(scope="module")
def results(corpus: Corpus) -> dict[str, tuple[str, str, bool]]:
    out = {}
    for r in corpus.files:
        if r.container in CONTAINERS:
            res = scan_file(r.path)
            out[r.id] = (res.verdict.value, res.format, corpus.weights_only[r.id].ok)
    return out


def test_every_container_is_covered(corpus: Corpus, results: dict) -> None:
    seen = collections.Counter(corpus.by_id(rid).container for rid in results)
    assert set(seen) == CONTAINERS, seen
    assert sum(seen.values()) >= 150


def test_safe_iff_torch_loads(results: dict) -> None:
    wrong = {rid: v for rid, v in results.items() if (v[0] == "safe") != v[2]}
    assert not wrong


def test_firing_payloads_are_never_mild(corpus: Corpus, results: dict) -> None:
    missed = {
        r.id: results[r.id]
        for r in corpus.malicious
        if r.id in results and corpus.fires[r.id].fired and results[r.id][0] in MILD
    }
    assert not missed


def test_formats(corpus: Corpus, results: dict) -> None:
    expected = {
        "legacy-format": "torch-legacy",
        "joblib-plain": "joblib",
        "joblib-zlib": "zlib:joblib",
        "npy-object": "npy-object",
        "npz-numeric": "npz",
        "safetensors": "safetensors",
        "legacy-tar": "tar",
        "gzip-ckpt": "gzip:torch-zip",
        "plain-pickle-p2": "pickle",
    }
    assert {rid: results[rid][1] for rid in expected} == expected


def test_benign_verdicts(results: dict) -> None:
    # Files torch refuses for their form only: unsupported, not worse.
    for rid in ("npy-numeric", "npz-numeric", "safetensors-as-bin", "gzip-ckpt", "npy-object"):
        assert results[rid][0] == "unsupported", rid
    assert results["legacy-new-dtype"][0] == "malformed"


def test_mutations_never_raise(corpus: Corpus) -> None:
    """Truncated and bit-flipped files of every container: a verdict, never a traceback."""
    rng = random.Random(1234)
    samples = [r for r in corpus.files if r.container in CONTAINERS]
    rng.shuffle(samples)
    seen: collections.Counter[str] = collections.Counter()
    for record in samples:
        if seen[record.container] >= 6:
            continue
        seen[record.container] += 1
        data = record.path.read_bytes()
        for _ in range(12):
            mutated = bytearray(data)
            if rng.random() < 0.3:
                mutated = mutated[: rng.randrange(len(mutated) + 1)]
            for _ in range(rng.randint(1, 4)):
                if mutated:
                    mutated[rng.randrange(len(mutated))] = rng.randrange(256)
            result = scan_bytes(bytes(mutated), name=record.path.name)
            assert_consistent(result)
            if record.kind == "malicious" and result.verdict.value == "safe":
                assert result.torch_error is None
