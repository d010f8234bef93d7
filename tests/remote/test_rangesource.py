"""The range-reading source against a real HTTP server that counts what it sends."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.support.servers import LoopbackServer
from torchvet.remote.rangesource import COALESCE_GAP, MIN_READ_AHEAD, UNCACHED_READ
from torchvet.remote.scanning import scan_url
from torchvet.remote.stores import open_source
from torchvet.scan import scan_file


@pytest.fixture(scope="module")
def blob(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blob") / "blob.bin"
    path.write_bytes(random.Random(7).randbytes(4 << 20))
    return path


def test_every_read_returns_the_bytes_asked_for(server: LoopbackServer, blob: Path) -> None:
    data = blob.read_bytes()
    url = server.add("range/exact.bin", blob)
    rng = random.Random(1)
    with open_source(url) as src:
        assert src.size == len(data)
        for _ in range(300):
            offset = rng.randrange(len(data) + 10)
            length = rng.choice([0, 1, 30, 700, 5000, 70_000, UNCACHED_READ + 3])
            assert src.read_at(offset, length) == data[offset : offset + length]
        assert src.bytes_read == server.sent("range/exact.bin")


def test_nearby_reads_share_requests(server: LoopbackServer, blob: Path) -> None:
    data = blob.read_bytes()
    url = server.add("range/near.bin", blob)
    with open_source(url) as src:
        first, spent = src.requests, src.bytes_read
        assert src.read_at(100_000, 30) == data[100_000:100_030]
        assert src.read_at(100_030, 40) == data[100_030:100_070]  # in the read-ahead
        gap = 100_030 + MIN_READ_AHEAD + COALESCE_GAP // 2
        assert src.read_at(gap, 10) == data[gap : gap + 10]  # a small gap: one span
        assert src.read_at(100_000, 900) == data[100_000:100_900]  # all held now
        assert src.requests == first + 2
        assert server.served.requests["/range/near.bin"] == src.requests
        # Nothing was fetched twice, nor beyond the gap and the read-aheads.
        assert src.bytes_read - spent == gap + 10 + MIN_READ_AHEAD - 100_000
        far = gap + 10 + MIN_READ_AHEAD + 10 * COALESCE_GAP
        assert src.read_at(far, 10) == data[far : far + 10]  # far: a span of its own
        assert src.bytes_read - spent == gap + 10 + 2 * MIN_READ_AHEAD + 10 - 100_000


def test_sequential_reads_grow_the_read_ahead(server: LoopbackServer, blob: Path) -> None:
    url = server.add("range/seq.bin", blob)
    with open_source(url) as src:
        for pos in range(1 << 20, 2 << 20, 512):
            src.read_at(pos, 512)
        # 2048 reads of 512 bytes; doubling read-ahead needs a handful of requests.
        assert src.requests <= 14
        assert src.bytes_read <= (1 << 20) + (1 << 20) + 4096


def test_large_reads_are_fetched_exactly(server: LoopbackServer, blob: Path) -> None:
    url = server.add("range/large.bin", blob)
    with open_source(url) as src:
        before = server.sent("range/large.bin")
        src.read_at(1 << 20, 2 << 20)
        assert server.sent("range/large.bin") - before == 2 << 20


def test_a_big_checkpoint_costs_its_directory_and_pickle(
    server: LoopbackServer, tmp_path: Path
) -> None:
    torch = pytest.importorskip("torch")
    path = tmp_path / "big.pt"
    torch.save({f"layer{i}.weight": torch.zeros(256, 256) for i in range(160)}, path)
    assert os.path.getsize(path) > 40 << 20
    url = server.add("range/big.pt", path)
    result = scan_url(url)
    local = scan_file(path)
    assert (result.verdict, result.format, result.size) == (local.verdict, local.format, local.size)
    assert result.bytes_read == server.sent("range/big.pt")
    assert result.bytes_read < 1 << 20
