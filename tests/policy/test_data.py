"""The generated tables in policy/data/ match the libraries installed here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.markers import needs_torch
from tests.support.worktree import REPO as ROOT


@pytest.mark.parametrize(
    ("script", "flag"),
    [
        # The generators read torch, numpy and the sources themselves, never retyped.
        pytest.param("gen_torch_policy.py", "--check", marks=needs_torch),
        ("gen_inert.py", "--check"),
        # The gadget table records a fingerprint of everything it is derived from (each
        # source file, the Python version, the derivation code and its sinks); the
        # derivation is deterministic, so an equal fingerprint means an equal table.
        # `gen_gadgets.py --check` re-derives it in full (about a minute).
        pytest.param("gen_gadgets.py", "--check-inputs", marks=needs_torch),
    ],
)
def test_generated_tables_match_the_installed_libraries(script: str, flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), flag], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
