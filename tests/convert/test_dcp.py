"""torch.distributed.checkpoint folders written by torch itself: what scan says of each file
(checked against what torch.load really does with it), and convert of the folder, also
for a tensor sharded over two ranks (two processes on loopback)."""

from __future__ import annotations

import os
import pathlib
import shutil
import socket
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from torchvet.converter import ConvertError, convert
from torchvet.results import Category, Verdict
from torchvet.scan import scan_file

torch = pytest.importorskip("torch")
dcp = pytest.importorskip("torch.distributed.checkpoint")
st = pytest.importorskip("safetensors.torch")


def _save(state: dict, folder: Path, **kw: object) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save(state, checkpoint_id=str(folder), **kw)
    return folder


def _torch_load_error(path: Path) -> str | None:
    try:
        torch.load(path, weights_only=True)
    except Exception as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("sizes", ["equal", "mixed"])
def test_each_file_is_recognised_and_torch_load_is_predicted(tmp_path: Path, sizes: str):
    state = {"a": torch.ones(2), "b": torch.zeros(2)}
    if sizes == "mixed":  # records of different lengths: torch.load cannot read the shard
        state.update({"big": torch.arange(3000.0), "step": 5})
    folder = _save(state, tmp_path / "ckpt")
    for path in sorted(folder.iterdir()):
        result = scan_file(path)
        real_error = _torch_load_error(path)
        if result.torch_error is None:
            assert real_error is None, (path.name, real_error)
        else:  # the same failure (torchvet words miniz's reasons its own way)
            assert real_error is not None, path.name
            said = result.torch_error
            assert said in real_error or real_error.split(":")[0] == said.split(":")[0], path.name
        if path.name == ".metadata":
            assert result.format == "dcp-metadata"
            assert result.verdict is Verdict.UNSUPPORTED  # refused by torch.load, no code run
            assert not [f for f in result.findings if f.category is Category.UNKNOWN_GLOBAL]
        else:
            assert result.format == "dcp-shard"
            assert result.verdict in (Verdict.SAFE, Verdict.UNSUPPORTED)
            assert (result.verdict is Verdict.SAFE) == (real_error is None)


def _marker_touch(marker: Path) -> object:
    class Payload:  # never loaded: the files are only scanned and converted
        def __reduce__(self) -> tuple:
            return (pathlib.Path.touch, (marker,))

    return Payload()


def test_code_in_an_object_record_or_the_metadata_is_found(tmp_path: Path):
    marker = tmp_path / "marker"
    folder = _save({"w": torch.ones(2), "hook": _marker_touch(marker)}, tmp_path / "objects")
    shard = next(p for p in folder.iterdir() if p.suffix == ".distcp")
    assert scan_file(shard).verdict is Verdict.DANGEROUS  # dcp.load runs it (weights_only=False)
    with pytest.raises(ConvertError, match="dangerous"):
        convert(folder, tmp_path / "o.safetensors")

    from torch.distributed.checkpoint.default_planner import DefaultSavePlanner

    class Planner(DefaultSavePlanner):  # planner_data is whatever a planner puts there
        def create_global_plan(self, all_plans):  # type: ignore[no-untyped-def]
            plans, metadata = super().create_global_plan(all_plans)
            metadata.planner_data = {"w": _marker_touch(marker)}
            return plans, metadata

    folder = _save({"w": torch.ones(2)}, tmp_path / "meta", planner=Planner())
    result = scan_file(folder / ".metadata")
    assert result.format == "dcp-metadata" and result.verdict is Verdict.DANGEROUS
    assert not marker.exists()


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
