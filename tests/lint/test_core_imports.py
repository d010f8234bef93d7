"""`torchvet lint` must not import torch or numpy (it runs where neither is installed)."""

from __future__ import annotations

import json
import subprocess
import sys

from .helpers import FIXTURES, REPO


def test_lint_imports_neither_torch_nor_numpy() -> None:
    code = (
        "import sys, json\n"
        "from torchvet.cli import main\n"
        "rc = main(['lint', '--exit-zero', '-q', sys.argv[1]])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')]\n"
        "print(json.dumps(sorted(heavy)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(FIXTURES)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert json.loads(result.stdout.splitlines()[-1]) == []
