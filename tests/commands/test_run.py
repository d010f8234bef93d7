"""`torchvet run`: a Python program runs with every unpickler guarded."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from tests.support.cli import SRC, run_cli
from tests.support.worktree import REPO


class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_torchvet_run_guards_a_script(tmp_path):
    evil = tmp_path / "evil.pkl"
    marker = tmp_path / "ran"
    evil.write_bytes(pickle.dumps(_Payload(marker)))
    script = tmp_path / "app.py"
    script.write_text(
        "import pickle, sys\n"
        "print('args', sys.argv[1:])\n"
        "pickle.loads(pickle.dumps({'ok': 1}))\n"
        f"pickle.load(open({str(evil)!r}, 'rb'))\n"
    )
    env = {"PYTHONPATH": SRC + os.pathsep + str(REPO)}  # the payload class lives in tests/
    res = run_cli("run", "--", str(script), "x", env=env)
    assert res.returncode == 1
    assert "args ['x']" in res.stdout
    assert "blocked the global posix.system" in res.stderr
    assert not marker.exists()
    mod = run_cli("run", "-m", "json.tool", "--help", env=env)
    assert mod.returncode == 0 and "usage" in mod.stdout
