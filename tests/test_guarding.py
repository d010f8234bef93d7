"""torchvet.guard: each loader refuses a malicious pickle under the
guard (its marker file is never created) and still loads benign files."""

from __future__ import annotations

import io
import os
import pickle
import threading
from pathlib import Path

import pytest

import torchvet
from torchvet.errors import BlockedGlobalError

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
joblib = pytest.importorskip("joblib")
pd = pytest.importorskip("pandas")


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _files(tmp_path: Path) -> dict[str, tuple[Path, Path, object]]:
    """loader -> (malicious file, its marker, load function)."""
    out = {}

    def make(name, writer, loader):
        marker = tmp_path / f"{name}.marker"
        path = tmp_path / name
        writer(path, _Payload(marker))
        out[name] = (path, marker, loader)

    make(
        "p.pkl", lambda p, x: p.write_bytes(pickle.dumps(x)), lambda p: pickle.loads(p.read_bytes())
    )
    make(
        "t.pt",
        lambda p, x: torch.save({"w": torch.ones(1), "x": x}, p),
        lambda p: torch.load(p, weights_only=False),
    )
    make(
        "n.npy",
        lambda p, x: np.save(p, np.array([x], dtype=object)),
        lambda p: np.load(p, allow_pickle=True),
    )
    make("j.joblib", lambda p, x: joblib.dump({"a": np.ones(2), "x": x}, p), joblib.load)
    make("d.pkl", lambda p, x: pd.to_pickle(pd.Series([x], dtype=object), p), pd.read_pickle)
    return out


def test_every_loader_is_blocked_and_payload_never_runs(tmp_path):
    files = _files(tmp_path)
    with torchvet.guard():
        for name, (path, marker, loader) in files.items():
            with pytest.raises(Exception) as exc:
                loader(path)
            chain = [exc.value, exc.value.__cause__, exc.value.__context__]
            assert any(isinstance(e, BlockedGlobalError) for e in chain), name
            assert not marker.exists(), name


def test_benign_loads_pass_under_the_guard(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    ckpt = {
        "sd": model.state_dict(),
        "p": torch.nn.Parameter(torch.ones(2)),
        "f8": torch.ones(2).to(torch.float8_e4m3fn),
        "set": {1, 2},
        "np": np.arange(3.0),
        "step": np.int64(3),
    }
    torch.save(ckpt, tmp_path / "c.pt")
    np.save(tmp_path / "o.npy", np.array([{"a": 1}, (1, 2)], dtype=object))
    joblib.dump({"coef": np.arange(3.0)}, tmp_path / "m.joblib", compress=3)
    df = pd.DataFrame({"a": [1, 2], "s": ["x", "y"], "t": pd.to_datetime(["2024-01-01"] * 2)})
    df.to_pickle(tmp_path / "df.pkl")
    with torchvet.guard():
        assert set(torch.load(tmp_path / "c.pt", weights_only=False)) == set(ckpt)
        assert np.load(tmp_path / "o.npy", allow_pickle=True)[0] == {"a": 1}
        assert joblib.load(tmp_path / "m.joblib")["coef"][2] == 2.0
        assert pd.read_pickle(tmp_path / "df.pkl").equals(df)
        assert pickle.loads(pickle.dumps({"a": (1, 2.0, None)}, protocol=0)) == {
            "a": (1, 2.0, None)
        }


def test_whole_module_blocked_unless_allowed_but_gadgets_never(tmp_path):
    buf = io.BytesIO()
    torch.save(torch.nn.ReLU(), buf)
    with torchvet.guard(), pytest.raises(BlockedGlobalError, match="ReLU"):
        torch.load(io.BytesIO(buf.getvalue()), weights_only=False)
    with torchvet.guard(allow=["torch.nn.modules.activation.ReLU"]):
        assert isinstance(torch.load(io.BytesIO(buf.getvalue()), weights_only=False), torch.nn.ReLU)
    evil = pickle.dumps(_Payload(tmp_path / "m"))
    with (
        torchvet.guard(allow=["posix.system", "os.system"]),
        pytest.raises(BlockedGlobalError) as exc,
    ):
        pickle.loads(evil)
    assert exc.value.gadget and "do not load it" in str(exc.value)
    assert not (tmp_path / "m").exists()


def test_scope_is_per_context_and_install_is_process_wide(tmp_path):
    evil = pickle.dumps(_Payload(tmp_path / "m"))
    results = {}

    def other_thread():
        results["active"] = torchvet.guard.active()

    with torchvet.guard():
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert torchvet.guard.active()
    assert results["active"] is False  # a scope does not leak into other threads
    assert not torchvet.guard.active()
    torchvet.guard.install()
    try:
        t = threading.Thread(target=other_thread)
        t.start()
        t.join()
        assert results["active"] is True
        with pytest.raises(BlockedGlobalError):
            pickle.loads(evil)
    finally:
        torchvet.guard.uninstall()
    assert not (tmp_path / "m").exists()
