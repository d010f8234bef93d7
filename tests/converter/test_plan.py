"""Write plans against the tensors torch loads: the safetensors dtype safetensors itself
writes, shape, byte count, layout and transforms; one name kept for tensors that are
the same view of the same storage; what safetensors cannot store, refused with why."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tests.converter.oracle import flatten
from tests.converter.walked import walked

torch = pytest.importorskip("torch")
st = pytest.importorskip("safetensors.torch")


def safetensors_dtype(t: torch.Tensor) -> str:
    """The dtype code safetensors writes for ``t`` (read back from its own header)."""
    data = st.save({"t": t.detach().resolve_conj().resolve_neg().contiguous()})
    (n,) = struct.unpack_from("<Q", data)
    return json.loads(data[8 : 8 + n])["t"]["dtype"]


def test_each_plan_describes_the_tensor_torch_loads(tmp_path: Path) -> None:
    base = torch.arange(24.0).view(4, 6)
    obj = {
        "plain": base,
        "transposed": base.t(),
        "narrowed": base[1:3, ::2],
        "expanded": torch.ones(3, 1).expand(3, 4),
        "neg": torch._neg_view(torch.ones(2)),
        "conj": torch.ones(2, dtype=torch.complex64).conj(),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.empty(0, 4),
    }
    for dtype in (torch.bfloat16, torch.int8, torch.bool, torch.uint16, torch.float8_e4m3fn):
        obj[str(dtype).removeprefix("torch.")] = torch.ones(3).to(dtype)
    torch.save(obj, tmp_path / "ckpt.pt")
    with walked(tmp_path / "ckpt.pt") as w:
        assert [p.name for p in w.plans.tensors] == list(obj)
        for p in w.plans.tensors:
            t = flatten(obj)[p.name]
            assert p.target.code == safetensors_dtype(t), p.name
            assert p.header_shape == list(t.shape), p.name
            assert p.nbytes == t.numel() * t.element_size(), p.name
            assert p.contiguous == t.is_contiguous(), p.name
            assert p.transformed == (t.is_conj() or t.is_neg()), p.name


def test_the_same_view_of_the_same_storage_is_kept_once(tmp_path: Path) -> None:
    net = torch.nn.Linear(2, 3)
    t = torch.arange(6.0)
    obj = {"model": net, "state": net.state_dict(), "a": t, "b": t, "view": t.view(2, 3)}
    torch.save(obj, tmp_path / "tied.pt")
    with walked(tmp_path / "tied.pt") as w:
        assert w.plans.aliases == {
            "state.weight": "model.weight",
            "state.bias": "model.bias",
            "b": "a",
        }  # "view" shares the storage, not the view: written on its own
        assert [p.name for p in w.plans.tensors] == ["model.weight", "model.bias", "a", "view"]


def test_what_safetensors_cannot_store_is_refused_with_the_reason(tmp_path: Path) -> None:
    obj = {
        "sparse": torch.eye(2).to_sparse(),
        "meta": torch.empty(2, device="meta"),
        "dense": torch.ones(2),
    }
    torch.save(obj, tmp_path / "odd.pt")
    with walked(tmp_path / "odd.pt") as w:
        assert [p.name for p in w.plans.tensors] == ["dense"]
        assert w.plans.unsupported == [
            ("sparse", "sparse tensor: safetensors stores dense tensors only"),
            ("meta", "meta tensor: it has no data"),
        ]


def test_names_are_renamed_once_planned(tmp_path: Path) -> None:
    torch.save({"model.w": torch.ones(1), "model.b": torch.zeros(1)}, tmp_path / "m.pt")
    with walked(tmp_path / "m.pt", rename=lambda name: "enc." + name) as w:
        assert [p.name for p in w.plans.tensors] == ["enc.model.w", "enc.model.b"]
