"""torch.distributed.checkpoint folders written by torch itself: what scan says of each file
(checked against what torch.load really does with it), and code hidden in an object record
or the metadata (found by scan, refused by convert)."""

from __future__ import annotations

import pathlib
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
