"""The per-torch-version facts against the installed torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.markers import needs_torch
from tests.support.worktree import REPO as ROOT
from torchvet.pickle.torchfacts import installed_torch_version, load_facts, pick_version


@needs_torch
def test_allowlist_is_torchs_plus_import_time_additions() -> None:
    # A fresh process: other tests import torch submodules that add more user globals.
    code = (
        "import json, torch\n"
        "from torch._weights_only_unpickler import _get_allowed_globals as a, "
        "_get_user_allowed_globals as u\n"
        "print(json.dumps([sorted(a()), sorted(u())]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    allowed, user = json.loads(out.stdout)
    facts = load_facts(installed_torch_version())
    assert set(facts.allowed) == set(allowed)
    assert facts.user_allowed_after_import == frozenset(user)
    reference = ROOT.parent / "shared" / "reference" / "torch-2.13-allowed-globals.txt"
    if reference.exists():
        assert set(reference.read_text().split()[1:]) == set(facts.allowed)


def test_version_selection() -> None:
    assert pick_version("2.13.0") == "2.13.0"
    assert pick_version("2.99.1") == "2.13.0"  # newest table not newer than the request
    with pytest.raises(ValueError):
        pick_version("latest")
