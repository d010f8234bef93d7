"""A short seeded run of the differential fuzzer (the long run: benchmarks/diff_fuzz.py).

It runs in a child process, as the benchmark's workers do, because CPython's unpicklers
allocate what a stream declares and the child caps its address space.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.worktree import REPO as REPO_ROOT

STREAMS = 6000
SEED = 20260515


def test_cpython_and_torchvet_agree_on_generated_streams() -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT / 'src'}{os.pathsep}{REPO_ROOT}"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.decoder.difffuzz",
            "--seed",
            str(SEED),
            "--count",
            str(STREAMS),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    report = json.loads(proc.stdout)
    stats = report["stats"]
    assert stats["streams"] == STREAMS
    # The run means something only if CPython resolved globals and finished pickles,
    # and some streams needed torchvet's readings of frames as C reads files.
    assert stats["reached a global"] > STREAMS // 4
    assert stats["loaded to STOP"] > STREAMS // 5
    assert stats["read again as C over files"] > STREAMS // 20
    assert report["classes"] == {}, json.dumps(report["examples"], indent=1)
