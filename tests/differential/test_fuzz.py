"""Mutated real checkpoints and pickles: the scanner never crashes, and never calls a
file safe that torch refuses (checked against torch in one batched oracle call)."""

from __future__ import annotations

import random
import struct
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.corpus import Corpus, weights_only_batch
from tests.support.results import assert_consistent
from torchvet.results import Verdict
from torchvet.scan import scan_bytes

BASES = [
    "mlp-state-dict",
    "conv-bn-state-dict",
    "optimizer-adam",
    "quant-per-channel",
    "sparse-coo",
    "sparse-csr",
    "nested-strided",
    "conj-neg-views",
    "shared-views",
    "parameter-attrs",
    "tensor-attrs",
    "meta",
    "legacy-format",
    "numpy-scalar",
    "lightning-ckpt",
    "plain-pickle-p2",
]


def _bases(corpus: Corpus) -> list[bytes]:
    ids = {r.id for r in corpus.files}
    chosen = [b for b in BASES if b in ids]
    assert len(chosen) == len(BASES), set(BASES) - ids
    return [Path(corpus.by_id(i).path).read_bytes() for i in chosen]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.random()
        pos = rng.randrange(len(buf)) if buf else 0
        if kind < 0.5 and buf:
            buf[pos] = rng.randrange(256)
        elif kind < 0.65 and buf:
            buf[pos] ^= 1 << rng.randrange(8)
        elif kind < 0.8:
            del buf[pos : pos + rng.randint(1, 16)]
        elif kind < 0.9:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            buf = buf[: rng.randrange(len(buf) + 1)]
    return bytes(buf)


@pytest.fixture(scope="module")
def bases(corpus: Corpus) -> list[bytes]:
    return _bases(corpus)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutations_never_crash(bases: list[bytes], data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(bases))
    seed = data.draw(st.integers(0, 2**32 - 1))
    mutant = _mutate(base, random.Random(seed))
    result = scan_bytes(mutant, name="mutant.pt")  # TORCHVET_DEBUG: a crash raises here
    assert_consistent(result)


@given(st.binary(max_size=512))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_never_crash(blob: bytes) -> None:
    assert_consistent(scan_bytes(blob))  # TORCHVET_DEBUG: a crash raises here


def _assert_safe_mutants_load(
    corpus: Corpus,
    tmp_path: Path,
    mutate: Callable[[bytes, random.Random], bytes],
    count: int,
    seed: int,
) -> None:
    """Every mutant torchvet calls safe must load with torch (one batched oracle call)."""
    rng = random.Random(seed)
    bases = _bases(corpus)
    safe_paths = []
    for i in range(count):
        mutant = mutate(bases[i % len(bases)], rng)
        if scan_bytes(mutant, name=f"m{i}.pt").verdict is Verdict.SAFE:
            path = tmp_path / f"m{i}.pt"
            path.write_bytes(mutant)
            safe_paths.append(path)
    # Many mutations hit tensor bytes or harmless values: there must be work to check.
    assert len(safe_paths) >= 30
    results = weights_only_batch([(p, (), ()) for p in safe_paths])
    refused = [
        f"{p.name}: {r.detail or r.message}"
        for p, r in zip(safe_paths, results, strict=True)
        if not r.ok
    ]
    assert not refused, "\n".join(refused)


def test_mutants_called_safe_are_loaded_by_torch(corpus: Corpus, tmp_path: Path) -> None:
    _assert_safe_mutants_load(corpus, tmp_path, _mutate, 600, 20261128)


def _pickle_region(data: bytes) -> tuple[int, int]:
    """Byte range of data.pkl inside a torch zip (the whole file for other formats)."""
    if not data.startswith(b"PK"):
        return 0, len(data)
    try:
        members = zipfile.ZipFile(BytesIO(data)).infolist()
    except zipfile.BadZipFile:  # e.g. the truncated-zip fixture
        return 0, len(data)
    info = next((i for i in members if i.filename.endswith("data.pkl")), None)
    if info is None or info.compress_size == 0:  # npz and other zips: mutate anywhere
        return 0, len(data)
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    return start, start + info.compress_size


def _mutate_pickle(data: bytes, rng: random.Random) -> bytes:
    """Overwrite bytes inside the pickle only, so the container stays readable."""
    start, end = _pickle_region(data)
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(start, end)
        buf[pos] = rng.randrange(256) if rng.random() < 0.7 else buf[pos] ^ (1 << rng.randrange(8))
    return bytes(buf)


def test_pickle_mutants_called_safe_are_loaded_by_torch(corpus: Corpus, tmp_path: Path) -> None:
    _assert_safe_mutants_load(corpus, tmp_path, _mutate_pickle, 2000, 7)
