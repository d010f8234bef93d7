"""TV007 flags exactly the names the scanner's catalog calls gadgets or reflective."""

from __future__ import annotations

import pytest

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules.tv007_dangerous_safe_global import DangerousSafeGlobal
from torchvet.policy.catalog import GADGETS, REFLECTIVE, inert_names
from torchvet.policy.gadgets import table_names


def flagged(name: str) -> bool:
    """Lint ``add_safe_globals([(obj, "name")])``: is the spelled name reported?"""
    code = f'import torch\ntorch.serialization.add_safe_globals([(obj, "{name}")])\n'
    outcome = lint_file_text("t.py", code, [DangerousSafeGlobal], Options(), "python")
    return any(d.code == "TV007" for d in outcome.diagnostics)


def _catalog_names() -> list[str]:
    names = [e.pattern.replace(".*", ".anything") for e in (*GADGETS, *REFLECTIVE)]
    return [*names, *table_names()[:: max(1, len(table_names()) // 40)]]


@pytest.mark.parametrize("name", _catalog_names())
def test_catalog_gadgets_and_reflective_names_are_flagged(name: str) -> None:
    assert flagged(name)


@pytest.mark.parametrize("name", [*sorted(inert_names())[:40], "argparse.Namespace", "a.B"])
def test_inert_and_unknown_names_are_not(name: str) -> None:
    assert not flagged(name)


def test_python_2_names_are_mapped_as_unpicklers_map_them() -> None:
    assert flagged("__builtin__.eval") and flagged("cPickle.loads")
    assert not flagged("__builtin__.set")
