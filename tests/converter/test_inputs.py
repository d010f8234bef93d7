"""convert on files real libraries write: numpy, joblib, torch.export, DCP, legacy whole
modules, TorchScript, an ultralytics training checkpoint. Each output is compared bit for
bit with what the writing library loads back (in a subprocess where the source is a
pickle), and its names with the names that library gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.converter.real_files import REPO, Made, ultralytics_package
from torchvet.converter import ConvertError, ConvertReport, convert

torch = pytest.importorskip("torch")
st = pytest.importorskip("safetensors.torch")
pytest.importorskip("joblib")

Converted = dict[str, tuple[Made, ConvertReport, Path]]


@pytest.fixture(scope="module")
def converted(real: list[Made], tmp_path_factory: pytest.TempPathFactory) -> Converted:
    """Every file converted the way a user would: default options."""
    out = tmp_path_factory.mktemp("converted")
    return {m.id: (m, convert(m.path, out / f"{m.id}.safetensors"), out) for m in real}


def test_every_file_matches_the_library_that_wrote_it(converted: Converted, tmp_path: Path):
    requests = [
        {
            "id": rid,
            "source": str(m.path),
            "loader": m.loader,
            "select": list(m.select),
            "output": str(out / f"{rid}.safetensors"),
            "aliases": report.aliases,
            "skipped": [n for n, _ in report.skipped],
        }
        for rid, (m, report, out) in converted.items()
        if m.loader != "dcp"
    ]
    spec = tmp_path / "requests.json"
    spec.write_text(json.dumps(requests))
    site = ultralytics_package(tmp_path)  # the classes the ultralytics pickle names
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.converter.real_oracle", str(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=600,
    )
    results = {r["id"]: r for r in map(json.loads, proc.stdout.splitlines())}
    assert set(results) == {r["id"] for r in requests}, proc.stderr[-3000:]
    failed = {rid: r["detail"] for rid, r in results.items() if not r["ok"]}
    assert not failed


def test_names_are_the_ones_load_state_dict_expects(converted: Converted):
    from tests.converter.netdefs import Block

    block_names = set(Block().state_dict())
    # (TorchScript archives are named by torch.jit.load(f).state_dict(), which also keeps
    # non-persistent buffers: the oracle test compares those.)
    for rid in ("legacy-module", "legacy-module-in-dict", "dcp"):
        _, report, _ = converted[rid]
        assert {n for n, _, _ in report.tensors} | set(report.aliases) == block_names, rid
    _, report, _ = converted["legacy-module-in-dict"]
    assert report.wrapper == "model"
    assert report.metadata["epoch"] == "3"


def test_ultralytics_training_checkpoint_unwraps_ema(converted: Converted):
    _, report, _ = converted["ultralytics-last"]
    assert report.wrapper == "ema"  # "model" is None in training checkpoints
    names = {n for n, _, _ in report.tensors}
    assert "model.0.conv.weight" in names and "model.1.bn.running_var" in names
    assert "stride" not in names  # a plain attribute, not in state_dict()
    assert ("optimizer", 18) in report.excluded  # 6 parameters x (step, exp_avg, exp_avg_sq)
    assert all(
        dtype == "F16" or n.endswith("num_batches_tracked") for n, dtype, _ in report.tensors
    )


def test_dcp_folder_equals_the_tensors_that_were_saved(converted: Converted, tmp_path: Path):
    m, report, _ = converted["dcp"]
    assert report.format == "torch-distributed-checkpoint"
    assert report.wrapper == "model" and report.metadata["step"] == "7"
    everything = tmp_path / "all.safetensors"
    convert(m.path, everything, include=("all",), unwrap=False)
    got = st.load_file(str(everything))
    assert len(m.expect) == 15
    for name, tensor in m.expect.items():
        assert got[name].dtype == tensor.dtype and torch.equal(got[name], tensor), name


def test_pt2_keeps_tied_weights_once_and_reads_constants(converted: Converted):
    _, report, _ = converted["pt2"]
    names = {n for n, _, _ in report.tensors} | set(report.aliases)
    assert {"emb.weight", "out.weight", "table", "mask", "norm.weight"} <= names
    assert set(report.aliases.items()) == {("out.weight", "emb.weight")}


@pytest.mark.parametrize(
    ("maker", "refusal"),
    [
        ("complex128", "complex128 has no safetensors dtype"),
        ("strings", "numpy dtype '<U3' has no safetensors dtype"),
    ],
)
def test_unstorable_arrays_are_refused_in_torch_words(tmp_path: Path, maker: str, refusal: str):
    import numpy as np

    arr = np.ones(3, np.complex128) if maker == "complex128" else np.array(["abc", "de"])
    np.save(tmp_path / "a.npy", arr)
    with pytest.raises(ConvertError, match="refused: safetensors cannot hold") as exc:
        convert(tmp_path / "a.npy", tmp_path / "a.safetensors")
    assert f"tensor: {refusal}" in str(exc.value)


def test_same_content_same_refusal_in_every_format(tmp_path: Path):
    import joblib
    import numpy as np
    import torch.distributed.checkpoint as dcp

    arr = np.arange(4, dtype=np.complex128)
    writers = {
        "zip.pt": lambda p: torch.save({"w": torch.from_numpy(arr)}, p),
        "legacy.pt": lambda p: torch.save(
            {"w": torch.from_numpy(arr)}, p, _use_new_zipfile_serialization=False
        ),
        "arrays.npz": lambda p: np.savez(p, w=arr),
        "model.joblib": lambda p: joblib.dump({"w": arr}, p),
        "dcp": lambda p: dcp.save({"w": torch.from_numpy(arr)}, checkpoint_id=str(p)),
    }
    messages = {}
    for name, write in writers.items():
        write(tmp_path / name)
        with pytest.raises(ConvertError) as exc:
            convert(tmp_path / name, tmp_path / f"{name}.safetensors")
        messages[name] = str(exc.value)
    assert len(set(messages.values())) == 1, messages
    assert "w: complex128 has no safetensors dtype" in messages["zip.pt"]
    torch.save({"step": 3}, tmp_path / "empty.pt")
    joblib.dump({"step": 3}, tmp_path / "empty.joblib")
    np.save(tmp_path / "objects.npy", np.array([{"step": 3}], dtype=object))
    refusals = set()
    for name in ("empty.pt", "empty.joblib", "objects.npy"):
        with pytest.raises(ConvertError) as exc:
            convert(tmp_path / name, tmp_path / f"{name}.safetensors")
        refusals.add(str(exc.value))
    assert refusals == {"no tensors to write"}
