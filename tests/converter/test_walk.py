"""Walking a checkpoint's symbolic object: its tensors get the names torch gives them
(state_dict names inside modules, dotted paths through dicts, lists and tuples), plain
data becomes metadata, and what has no name is dropped with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.converter.oracle import flatten
from tests.converter.walked import walked

torch = pytest.importorskip("torch")


def test_tensors_are_named_as_torch_names_them(tmp_path: Path) -> None:
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    t = torch.arange(6.0).view(2, 3)
    obj = {
        "model": net,  # a whole module: its state_dict names
        "state": net.state_dict(),
        "list": [t, (t.t(), torch.ones(2, dtype=torch.bfloat16))],
        3: torch.zeros(1),
        (1, 2): torch.ones(1),
        "cfg": {"lr": 0.1, "layers": [1, 2], "name": "x"},
        "epoch": 7,
    }
    torch.save(obj, tmp_path / "ckpt.pt")
    with walked(tmp_path / "ckpt.pt") as w:
        assert [leaf.path for leaf in w.walk.tensors] == list(flatten(obj))
        assert {k: json.loads(v) for k, v in w.walk.metadata.items()} == {
            "cfg": obj["cfg"],
            "epoch": 7,
        }
        assert w.walk.dropped == []


def test_what_has_no_name_is_dropped_with_the_reason(tmp_path: Path) -> None:
    t = torch.ones(2)
    loop: list = [t]
    loop.append(loop)
    torch.save({"set": {t}, "loop": loop, "tags": {"a", "b"}}, tmp_path / "odd.pt")
    with walked(tmp_path / "odd.pt") as w:
        assert [leaf.path for leaf in w.walk.tensors] == ["loop.0"]
        assert w.walk.dropped == [
            ("set", "tensors inside a set have no names"),
            ("loop.1", "refers back to a container that holds it"),
            ("tags", "not plain data: a builtins.set"),
        ]
