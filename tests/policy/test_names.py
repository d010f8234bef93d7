"""Exact names: the one test of whether a pickled global is exactly an allowed object."""

from __future__ import annotations

import pytest

from torchvet.policy.names import NameRule, cpython_resolutions


# -- exact names ----------------------------------------------------------------------
def test_name_rule_is_exact() -> None:
    rule = NameRule(
        frozenset({"torch._utils._rebuild_tensor_v2"}), frozenset({"argparse.Namespace"})
    )
    assert rule.allows("torch._utils", "_rebuild_tensor_v2")
    assert rule.allows("torch", "_utils._rebuild_tensor_v2")  # torch resolves the key
    assert rule.allows("argparse", "Namespace")
    assert not rule.allows("argparse.Namespace", "__init__")
    assert not rule.allows("argparse", "Namespace.__init__")
    assert not rule.allows("argparse", "Namespace.x")  # plain names: one attribute only
    assert not rule.allows("torch._utils", "_rebuild_tensor_v2.__globals__")


def test_cpython_resolutions_follow_compat_pickle() -> None:
    assert cpython_resolutions("__builtin__", "set") == [("builtins", "set")]
    assert cpython_resolutions("commands", "getoutput") == [("subprocess", "getoutput")]
    assert ("itertools", "izip") in cpython_resolutions("itertools", "izip")  # both importable
    assert cpython_resolutions("argparse", "Namespace") == [("argparse", "Namespace")]


def test_every_split_of_torchs_keys_reaches_the_same_object() -> None:
    # NameRule lets torch's own keys through whatever the module/name split, as torch does;
    # CPython walks attributes instead, so every split must reach what the plain
    # ``module`` + ``name`` spelling reaches.
    import importlib

    pytest.importorskip("torch")
    from torch._weights_only_unpickler import _get_allowed_globals

    def walk(parts: list[str], i: int) -> object:
        obj = importlib.import_module(".".join(parts[:i]))
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj

    bad = []
    for key in _get_allowed_globals():
        parts = key.split(".")
        plain = walk(parts, len(parts) - 1)
        for i in range(1, len(parts) - 1):
            try:
                got = walk(parts, i)
            except (ImportError, AttributeError):
                continue
            if got is not plain:
                bad.append(key)
    assert bad == []
