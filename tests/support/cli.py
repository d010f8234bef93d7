"""torchvet run as a user runs it, in a fresh interpreter on this tree's sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from tests.support.worktree import REPO

SRC = str(REPO / "src")
# A clean machine's environment: only what finding Python and this tree takes.
BARE_ENV = {"PYTHONPATH": SRC, "PATH": "/usr/bin:/bin"}


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m torchvet ARGS`` (colour left to the terminal, as for a user)."""
    base = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    return subprocess.run(
        [sys.executable, "-m", "torchvet", *args],
        cwd=cwd,
        input=stdin,
        env={**base, "PYTHONPATH": SRC, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def imported_by(code: str, packages: Iterable[str], cwd: Path | None = None) -> list[str]:
    """Which of ``packages`` (top-level names) running ``code`` imports, in a fresh
    interpreter with a bare environment; ``code`` must run without error."""
    wanted = sorted(set(packages))
    probe = (
        f"{code}\nimport sys as _sys, json as _json\n"
        f"print(_json.dumps(sorted({{m.split('.')[0] for m in _sys.modules}} & {set(wanted)!r})))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, env=BARE_ENV, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])
