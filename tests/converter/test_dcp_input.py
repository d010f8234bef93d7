"""A tensor that torch.distributed.checkpoint sharded over two ranks (two processes on
loopback), converted back into one tensor."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from torchvet.converter import convert

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed.checkpoint")
st = pytest.importorskip("safetensors.torch")


_RANK = """
    import sys, warnings
    warnings.simplefilter("ignore")
    import torch, torch.distributed as dist, torch.distributed.checkpoint as dcp
    from torch.distributed.tensor import DeviceMesh, Shard, distribute_tensor
    rank, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=2)
    mesh = DeviceMesh("cpu", [0, 1])
    g = torch.Generator().manual_seed(0)
    rows, cols = torch.randn(7, 5, generator=g), torch.randn(4, 9, generator=g).bfloat16()
    dcp.save({"rows": distribute_tensor(rows, mesh, [Shard(0)]),
              "cols": distribute_tensor(cols, mesh, [Shard(1)]),
              "count": torch.arange(3)}, checkpoint_id=out)
    dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tensors_sharded_over_two_ranks_are_reassembled(tmp_path: Path):
    folder = tmp_path / "sharded"
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo"}
    code = textwrap.dedent(_RANK)
    for _attempt in range(3):  # the free port can be taken before rank 0 binds it
        port = str(_free_port())
        ranks = [
            subprocess.Popen([sys.executable, "-c", code, str(r), port, str(folder)], env=env)
            for r in (0, 1)
        ]
        codes = [p.wait(timeout=300) for p in ranks]
        if codes == [0, 0]:
            break
        shutil.rmtree(folder, ignore_errors=True)
    assert codes == [0, 0]
    assert len(list(folder.glob("*.distcp"))) == 2
    out = tmp_path / "sharded.safetensors"
    convert(folder, out)
    got = st.load_file(str(out))
    g = torch.Generator().manual_seed(0)
    rows, cols = torch.randn(7, 5, generator=g), torch.randn(4, 9, generator=g).bfloat16()
    assert torch.equal(got["rows"], rows) and torch.equal(got["cols"], cols)
    assert torch.equal(got["count"], torch.arange(3))
