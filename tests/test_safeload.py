"""torchvet.load / torchvet.save against real torch."""

from __future__ import annotations

import argparse
import io
import os
import warnings

import pytest

import torchvet
from torchvet.errors import UnsafeCheckpointError
from torchvet.safeload import TorchvetSaveWarning, allow_entries

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")


def test_safe_file_loads_from_path_and_file_object(tmp_path):
    path = tmp_path / "sd.pt"
    torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    assert set(torchvet.load(path)) == {"weight", "bias"}
    with open(path, "rb") as f:
        f.read(0)
        assert set(torchvet.load(f, map_location="cpu")) == {"weight", "bias"}


def test_needs_allowlist_lists_every_global_and_the_fix(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"w": torch.ones(1), "best": np.float64(0.9), "args": argparse.Namespace(a=1)}, path)
    with pytest.raises(UnsafeCheckpointError) as exc:
        torchvet.load(path)
    err = exc.value
    assert err.verdict == "needs-allowlist"
    assert err.blocking == [
        "numpy._core.multiarray.scalar",
        "numpy.dtype",
        "numpy.dtypes.Float64DType",
        "argparse.Namespace",
    ]
    assert "safe_globals" in str(err) and "torchvet convert" in str(err)
    obj = torchvet.load(path, allow=err.allowlist)  # the suggested fix works
    assert obj["args"].a == 1 and float(obj["best"]) == 0.9


def test_numpy_1_spelling_is_accepted(tmp_path):
    entries, names = allow_entries(["numpy.core.multiarray._reconstruct"])
    assert "numpy._core.multiarray._reconstruct" in names
    assert {n for _, n in entries} == set(names)
    assert entries[0][0] is np._core.multiarray._reconstruct


def test_whole_module_refused_with_convert_command(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UnsafeCheckpointError) as exc:
        torchvet.load(path)
    assert exc.value.verdict == "unknown"
    assert exc.value.remedy.startswith("torchvet convert ")
    assert "torch.nn.modules.linear.Linear" in exc.value.blocking


def test_dangerous_file_never_reaches_torch(tmp_path):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'MARK'}",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    for allow in ((), ("posix.system",)):
        with pytest.raises(UnsafeCheckpointError) as exc:
            torchvet.load(path, allow=allow)
        assert exc.value.verdict == "dangerous"
    assert not (tmp_path / "MARK").exists()


def test_save_warns_about_what_weights_only_refuses(tmp_path):
    obj = {
        "w": torch.ones(1),
        "np": np.float32(1),
        "args": argparse.Namespace(),
        "ver": torch.__version__,
        "ok": {"a": [1, 2.0, "x", None]},
    }
    with pytest.warns(TorchvetSaveWarning) as rec:
        torchvet.save(obj, tmp_path / "a.pt", pickle_protocol=4)
    text = str(rec[0].message)
    for needle in (
        "np: numpy",
        "args: argparse.Namespace",
        "ver: torch.__version__",
        "pickle_protocol=4",
    ):
        assert needle in text
    assert "ok" not in text.split("\n", 1)[1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        buf = io.BytesIO()
        torchvet.save({"w": torch.ones(1), "n": 3}, buf)  # clean: no warning
    buf.seek(0)
    assert torchvet.load(buf)["n"] == 3


def test_public_functions_survive_submodule_imports() -> None:
    import torchvet
    import torchvet.converter
    import torchvet.guarding
    import torchvet.safeload

    assert callable(torchvet.load) and torchvet.load.__module__ == "torchvet.safeload"
    assert callable(torchvet.convert) and torchvet.convert.__module__ == "torchvet.converter.core"
    assert callable(torchvet.guard.install) and callable(torchvet.guard)
