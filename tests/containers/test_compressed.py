"""Compressed files: decompressed incrementally with a bound, the inner file scanned."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.corpus import Asm, weights_only_batch
from tests.corpus.containers import Raw, joblib_dump
from torchvet.containers.base import ScanContext
from torchvet.policy.judge import Policy
from torchvet.policy.verdict import judge_observations
from torchvet.scan import scan_bytes, scan_container, scan_file
from torchvet.source import BytesSource

PAYLOAD = Asm(2).global_("os", "system").tuple_of("true").reduce().stop().bytes()
CODECS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "zlib": zlib.compress,
}


def test_compressed_checkpoints(torch_file: bytes, tmp_path: Path) -> None:
    paths = []
    for codec, compress in CODECS.items():
        paths.append(tmp_path / f"ckpt-{codec}.pt")
        paths[-1].write_bytes(compress(torch_file))
    results = weights_only_batch([(p, (), ()) for p in paths])
    for path, res, codec in zip(paths, results, CODECS, strict=True):
        scanned = scan_file(path)
        assert scanned.format == f"{codec}:torch-zip"
        assert scanned.verdict.value == "unsupported", scanned.findings
        assert not res.ok
        assert scanned.torch_error is not None and scanned.torch_error in (res.detail or "")


@pytest.mark.parametrize("codec", ["zlib", "gzip", "bz2", "xz", "lzma"])
def test_joblib_compressors(codec: str, tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    joblib_dump({"w": np.arange(3.0)}, path, compress=codec)
    benign = scan_file(path)
    assert benign.format == f"{codec}:joblib" and benign.verdict.value == "unsupported"
    joblib_dump({"w": np.arange(3.0), "x": Raw(PAYLOAD[2:-1])}, path, compress=codec)
    assert scan_file(path).verdict.value == "dangerous"


def test_payload_in_a_second_gzip_member() -> None:
    data = gzip.compress(Asm(2).value(1).stop().bytes()) + b"\0\0" + gzip.compress(PAYLOAD)
    result = scan_bytes(data, name="x.pkl.gz")
    assert result.verdict.value == "dangerous"


def test_decompression_bomb_is_capped_and_its_prefix_scanned() -> None:
    # The payload comes first, then 8 MiB of zeros: the cap stops reading, the payload
    # read before it still makes the file dangerous, and a LIMIT finding says how far.
    bomb = zlib.compress(PAYLOAD[:-1] + b"\0" * (8 << 20), 9)
    ctx = ScanContext(Policy.for_torch(), path="bomb.z", max_pickle_bytes=1 << 20)
    scan = scan_container(BytesSource(bomb), ctx)
    findings = judge_observations(scan.observations, ctx.policy).findings
    limits = [f.message for f in findings if f.category.value == "limit"]
    assert limits and "read 1 MiB of decompressed zlib data" in limits[0]
    assert any(f.category.value == "gadget" for f in findings)


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_corrupt_and_truncated(codec: str, torch_file: bytes) -> None:
    data = CODECS[codec](torch_file)
    for bad in (data[: len(data) // 2], data[:20] + bytes(b ^ 0x5A for b in data[20:])):
        result = scan_bytes(bad, name="x.gz")
        assert result.verdict.value == "malformed", (codec, result.findings)


def test_trailing_garbage_after_the_stream(torch_file: bytes) -> None:
    result = scan_bytes(gzip.compress(torch_file) + b"garbage", name="x.gz")
    assert result.verdict.value == "unsupported"


def test_nesting_is_bounded() -> None:
    data = PAYLOAD
    for _ in range(6):
        data = gzip.compress(data)
    result = scan_bytes(data, name="x.gz")
    assert result.verdict.value == "unknown"  # the bound says nothing about the content
    assert any("not scanned" in f.message for f in result.findings)


def test_payload_before_a_corrupt_tail_is_found() -> None:
    # joblib and pandas unpickle while they decompress: what precedes the damage runs.
    data = bytearray(gzip.compress(PAYLOAD + b"\0" * 100_000))
    data[-12:-8] = b"\xff\xff\xff\xff"  # breaks the CRC, after all the output
    result = scan_bytes(bytes(data), name="x.gz")
    assert result.verdict.value == "dangerous"


def test_zstd_pickle_written_by_pandas(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "frame.pkl.zst"
    pd.DataFrame({"a": [1, 2]}).to_pickle(path, compression="zstd")
    assert scan_file(path).format.startswith("zstd:")
    raw = tmp_path / "payload.zst"
    import zstandard

    raw.write_bytes(zstandard.ZstdCompressor().compress(PAYLOAD))
    assert scan_file(raw).verdict.value == "dangerous"


def test_lz4_joblib(tmp_path: Path) -> None:
    path = tmp_path / "m.joblib"
    joblib_dump({"w": np.arange(3.0), "x": Raw(PAYLOAD[2:-1])}, path, compress="lz4")
    result = scan_file(path)
    assert result.format == "lz4:joblib" and result.verdict.value == "dangerous"


def test_decoder_memory_is_capped() -> None:
    # An lzma header declaring a 1.5 GiB dictionary: the decoder refuses to allocate it
    # (joblib.load would), so the file is unknown, not malformed.
    data = bytearray(lzma.compress(PAYLOAD, format=lzma.FORMAT_ALONE))
    data[1:5] = (1536 << 20).to_bytes(4, "little")
    result = scan_bytes(bytes(data), name="x.lzma")
    assert result.verdict.value == "unknown", result.findings
    assert any("decoder memory" in f.message for f in result.findings)


def test_old_joblib_zfile() -> None:
    inner = PAYLOAD
    data = b"ZF" + hex(len(inner)).encode().ljust(19) + zlib.compress(inner)
    result = scan_bytes(data, name="old.pkl")
    assert result.format == "joblib-zfile:pickle"
    assert result.verdict.value == "dangerous"
    wrong = b"ZF" + hex(len(inner) + 1).encode().ljust(19) + zlib.compress(inner)
    assert scan_bytes(wrong, name="old.pkl").verdict.value == "malformed"


def test_large_output_spills_to_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from torchvet.containers import compressed

    monkeypatch.setattr(compressed, "_SPILL", 1 << 16)
    monkeypatch.setattr(compressed.tempfile, "tempdir", str(tmp_path))
    path = tmp_path / "big.joblib"
    joblib_dump({"w": np.zeros(100_000), "x": Raw(PAYLOAD[2:-1])}, path, compress="zlib")
    result = scan_file(path)
    assert result.format == "zlib:joblib" and result.verdict.value == "dangerous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.joblib"]  # cleaned up
