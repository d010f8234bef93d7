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
        # The gadget table is re-derived in full (about 10 s on 2 cores) whenever the
        # fingerprint of its inputs differs, as on a CUDA build or another Python.
        pytest.param("gen_gadgets.py", "--check-inputs", marks=needs_torch),
    ],
)
def test_generated_tables_match_the_installed_libraries(script: str, flag: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), flag], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
