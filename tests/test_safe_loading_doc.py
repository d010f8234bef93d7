"""docs/safe-loading.md: every snippet and command in it runs, in order, as written."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from markdown_it import MarkdownIt

from tests.support.cli import run_cli
from tests.support.markers import needs_torch

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "safe-loading.md"
# What each documented command must exit with (scan: 1, whole_model.pt is not safe).
EXPECTED_EXIT = {"scan": 1, "convert": 0, "lint": 0}


def _blocks() -> list[tuple[str, str]]:
    tokens = MarkdownIt().parse(DOC.read_text(encoding="utf-8"))
    return [(t.info.strip(), t.content) for t in tokens if t.type == "fence"]


@needs_torch  # the snippets save and load with torch
def test_every_snippet_and_command_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "PYTHONWARNINGS": "ignore"}
    ran = {"python": 0, "console": 0}
    for info, body in _blocks():
        if info == "python":
            proc = subprocess.run(
                [sys.executable, "-c", body], cwd=tmp_path, env=env, capture_output=True, text=True
            )
            assert proc.returncode == 0, (body, proc.stderr)
            ran["python"] += 1
        elif info == "console":
            for line in body.splitlines():
                if not line.startswith("$ "):
                    continue
                argv = shlex.split(line[2:])
                assert argv[0] == "torchvet"
                proc = run_cli(*argv[1:], cwd=tmp_path, env=env)
                assert proc.returncode == EXPECTED_EXIT[argv[1]], (line, proc.stdout, proc.stderr)
                assert "Traceback" not in proc.stderr
                if argv[1] == "scan":
                    assert "SAFE" in proc.stdout and "UNKNOWN" in proc.stdout, proc.stdout
                ran["console"] += 1
    assert ran["python"] >= 5 and ran["console"] >= 3, ran
    assert (tmp_path / "model.safetensors").is_file()
