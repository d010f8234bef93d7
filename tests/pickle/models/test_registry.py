"""Model registration: every registered name is a real callable, and each has one model."""

from __future__ import annotations

import importlib
import warnings

import pytest

from torchvet.pickle.models import Knowledge
from torchvet.pickle.models.registry import CALL_MODELS, NEW_MODELS, model


def _resolve(name: str) -> object:
    """The object a pickle GLOBAL of ``name`` names (the longest importable module)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy.core is numpy 2's deprecated alias
                obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(name)


@pytest.mark.parametrize("name", sorted(set(CALL_MODELS) | set(NEW_MODELS)))
def test_registered_names_are_real_callables(name: str) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("numpy")
    assert callable(_resolve(name))


# Allowlisted rebuilds torchvet does not emulate: calls of them are UNVERIFIED.
_UNMODELLED = {
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._utils._rebuild_wrapper_subclass",
}


def test_torch_allowlist_rebuilds_are_modelled() -> None:
    facts = Knowledge().facts
    rebuilds = {n for n in facts.allowed if n.startswith("torch._utils._rebuild")}
    assert rebuilds - set(CALL_MODELS) == _UNMODELLED


def test_a_name_gets_one_model() -> None:
    with pytest.raises(ValueError, match=r"two models for torch\.Size"):
        model("torch.Size")(lambda fx, call: call.func)
