"""Files written by the real libraries (numpy, joblib, torch.export, torch.distributed
.checkpoint, torch.jit, legacy torch.save) and a faithful ultralytics training checkpoint,
for the convert tests. Each ``Made`` says how the oracle process loads it back.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Made:
    id: str
    path: Path
    loader: str  # how real_oracle.py loads it: torch, jit, export, joblib, numpy, dcp
    select: tuple[str, ...] = ()  # keys to descend into before naming tensors
    expect: dict[str, Any] = field(default_factory=dict)  # dcp: the tensors that were saved


def numpy_files(out: Path) -> list[Made]:
    import numpy as np

    rng = np.random.default_rng(0)
    arrays = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64_fortran": np.asfortranarray(rng.standard_normal((4, 5))),
        "i32_big": np.arange(-6, 6, dtype=">i4").reshape(3, 4),
        "c64_big": (rng.standard_normal(3) + 1j).astype(">c8"),
        "flags": np.array([True, False, True]),
        "u16": np.arange(7, dtype=np.uint16),
        "scalar": np.float16(1.5) * np.ones((), np.float16),
        "empty": np.zeros((0, 3), np.int8),
    }
    made = []
    for name, arr in arrays.items():
        path = out / f"{name}.npy"
        np.save(path, arr)
        made.append(Made(f"npy-{name}", path, "numpy"))
    np.savez(out / "stored.npz", **arrays)
    np.savez_compressed(out / "deflated.npz", **arrays)
    made += [Made("npz-stored", out / "stored.npz", "numpy")]
    made += [Made("npz-deflated", out / "deflated.npz", "numpy")]
    return made


def joblib_files(out: Path) -> list[Made]:
    import joblib
    import numpy as np

    rng = np.random.default_rng(1)
    obj = {
        "coef": rng.standard_normal((4, 3)),
        "fortran": np.asfortranarray(rng.standard_normal((3, 5)).astype(np.float32)),
        "big": np.arange(5, dtype=">i8"),
        "labels": np.array([1, 0, 1], dtype=np.int8),
        "n_iter": 12,
        "name": "ridge",
    }
    joblib.dump(obj, out / "model.joblib")
    joblib.dump(obj, out / "model.joblib.z", compress=3)
    return [
        Made("joblib", out / "model.joblib", "joblib"),
        Made("joblib-zlib", out / "model.joblib.z", "joblib"),
    ]


def export_file(out: Path) -> list[Made]:
    import torch

    from tests.converter.netdefs import Tied

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(Tied().eval(), (torch.tensor([[1, 2], [3, 4]]),))
        torch.export.save(ep, out / "tied.pt2")
    return [Made("pt2", out / "tied.pt2", "export")]


def dcp_folder(out: Path) -> list[Made]:
    import torch
    import torch.distributed.checkpoint as dcp

    from tests.converter.netdefs import Block

    torch.manual_seed(0)
    net = Block()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(torch.randn(2, 3, 6, 6)).sum().backward()
    opt.step()
    state = {
        "model": net.state_dict(),
        "optimizer": opt.state_dict(),
        "extra": {"t": torch.arange(12.0).view(3, 4).t(), "half": torch.ones(3).bfloat16()},
        "step": 7,
        "tag": "run-1",
    }
    folder = out / "ckpt-dcp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dcp.save(state, checkpoint_id=str(folder))
    expect = {f"model.{k}": v.clone() for k, v in net.state_dict().items()}
    expect.update({"extra.t": state["extra"]["t"].clone(), "extra.half": state["extra"]["half"]})
    for i, s in opt.state_dict()["state"].items():
        expect[f"optimizer.state.{i}.momentum_buffer"] = s["momentum_buffer"].clone()
    return [Made("dcp", folder, "dcp", expect=expect)]


def torch_files(out: Path) -> list[Made]:
    import torch

    from tests.converter.netdefs import Block

    torch.manual_seed(0)
    net = Block().eval()
    torch.save(net, out / "legacy_module.pt", _use_new_zipfile_serialization=False)
    torch.save(
        {"model": net, "epoch": 3}, out / "legacy_dict.pt", _use_new_zipfile_serialization=False
    )
    x = torch.randn(1, 3, 6, 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.script(net).save(str(out / "scripted.pt"))
        torch.jit.trace(net, x).save(str(out / "traced.pt"))
    return [
        Made("legacy-module", out / "legacy_module.pt", "torch"),
        Made("legacy-module-in-dict", out / "legacy_dict.pt", "torch", ("model",)),
        Made("torchscript-scripted", out / "scripted.pt", "jit"),
        Made("torchscript-traced", out / "traced.pt", "jit"),
    ]


# ultralytics' package layout and trainer checkpoint (ultralytics 8.3 BaseTrainer.save_model),
# reproduced: the real package needs torchvision, which does not import beside torch 2.13.
_ULTRALYTICS = {
    "ultralytics/__init__.py": '__version__ = "8.3.0"\n',
    "ultralytics/nn/__init__.py": "",
    "ultralytics/nn/modules/__init__.py": "",
    "ultralytics/nn/modules/conv.py": """
        import torch
        class Conv(torch.nn.Module):
            default_act = torch.nn.SiLU()
            def __init__(self, c1, c2, k=1, s=1):
                super().__init__()
                self.conv = torch.nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
                self.bn = torch.nn.BatchNorm2d(c2)
                self.act = self.default_act
            def forward(self, x):
                return self.act(self.bn(self.conv(x)))
        """,
    "ultralytics/nn/tasks.py": """
        import torch
        from ultralytics.nn.modules.conv import Conv
        class DetectionModel(torch.nn.Module):
            def __init__(self, nc=2):
                super().__init__()
                self.yaml = {"nc": nc, "scales": {"n": [0.5, 0.25, 1024]}}
                self.model = torch.nn.Sequential(Conv(3, 8, 3, 2), Conv(8, 16, 3, 2))
                self.stride = torch.tensor([8.0, 16.0, 32.0])  # an attribute, not a buffer
                self.names = {i: f"class{i}" for i in range(nc)}
                self.nc = nc
                self.args = {"imgsz": 64}
        """,
}
_ULTRALYTICS_SAVE = """
    import sys
    from copy import deepcopy
    import torch
    from ultralytics.nn.tasks import DetectionModel
    torch.manual_seed(0)
    model = DetectionModel()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.model(torch.randn(2, 3, 16, 16)).sum().backward()
    opt.step()
    sd = opt.state_dict()
    for state in sd["state"].values():  # ultralytics' convert_optimizer_state_dict_to_fp16
        for k, v in state.items():
            if k != "step" and isinstance(v, torch.Tensor) and v.dtype is torch.float32:
                state[k] = v.half()
    torch.save({
        "epoch": 3, "best_fitness": None, "model": None,
        "ema": deepcopy(model).half(), "updates": 42, "optimizer": sd,
        "scaler": {}, "train_args": {"epochs": 10, "imgsz": 64},
        "train_metrics": {"fitness": 0.1}, "train_results": {"epoch": [1, 2, 3]},
        "date": "2025-01-01T00:00:00", "version": "8.3.0",
        "license": "AGPL-3.0 (https://ultralytics.com/license)",
        "docs": "https://docs.ultralytics.com",
    }, sys.argv[1])
"""


def ultralytics_package(out: Path) -> Path:
    root = out / "fake-site"
    for rel, text in _ULTRALYTICS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def ultralytics_file(out: Path) -> list[Made]:
    site = ultralytics_package(out)
    path = out / "last.pt"
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = textwrap.dedent(_ULTRALYTICS_SAVE)
    subprocess.run([sys.executable, "-c", code, str(path)], env=env, check=True, timeout=300)
    return [Made("ultralytics-last", path, "torch", ("ema",))]


def all_files(out: Path) -> list[Made]:
    out.mkdir(parents=True, exist_ok=True)
    made: list[Made] = []
    for make in (
        numpy_files,
        joblib_files,
        export_file,
        dcp_folder,
        torch_files,
        ultralytics_file,
    ):
        made += make(out)
    return made
