"""`torchvet run`: a Python program runs with every unpickler guarded."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

from tests.support.worktree import REPO

SRC = str(REPO / "src")


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
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + str(Path(__file__).resolve().parents[2])}
    res = subprocess.run(
        [sys.executable, "-m", "torchvet", "run", "--", str(script), "x"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 1
    assert "args ['x']" in res.stdout
    assert "blocked the global posix.system" in res.stderr
    assert not marker.exists()
    mod = subprocess.run(
        [sys.executable, "-m", "torchvet", "run", "-m", "json.tool", "--help"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert mod.returncode == 0 and "usage" in mod.stdout
