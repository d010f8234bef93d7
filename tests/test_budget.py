"""Resource bounds: every bomb family of benchmarks/bomb_families.py (each file at most
1 MB) scans in a separate process within 256 MiB of peak memory, with a verdict that is
not safe.

Memory only: time is measured by ``python benchmarks/bombs.py`` (see RESULTS.md), never
asserted here. The peak is the child's own VmHWM (reset before each file through
/proc/self/clear_refs, after returning freed memory with malloc_trim), so neither this
process's size nor the previous file counts.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import bomb_families as bombs
from tests.support.worktree import REPO as ROOT
from torchvet.budget import Budget, spending
from torchvet.pickle.machine import Limits
from torchvet.scan import scan_bytes

PEAK_BOUND = 256 << 20
_CHILD = r"""
import ctypes, gc, json, sys
from torchvet.scan import scan_file

libc = ctypes.CDLL(None)

def peak():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024

out = []
for path in sys.argv[1:]:
    gc.collect()
    libc.malloc_trim(0)  # give the previous file's memory back before measuring this one
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak to the current size
    result = scan_file(path)
    categories = sorted({f.category.value for f in result.findings})
    out.append({"path": path, "verdict": result.verdict.value, "peak": peak(), "cats": categories})
print(json.dumps(out))
"""

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc to measure peaks"
)


@pytest.fixture(scope="module")
def bomb_paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return bombs.write_all(tmp_path_factory.mktemp("bombs"))


def _scan_in_children(paths: list[Path]) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    halves = [paths[0::2], paths[1::2]]  # two processes: the machine has two cores
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, *map(str, half)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for half in halves
    ]
    rows = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        rows += json.loads(out)
    return rows


@pytest.mark.slow  # ~35 CPU seconds: every family is scanned up to its bounds
def test_every_bomb_family_is_bounded_and_not_safe(bomb_paths: dict[str, Path]) -> None:
    rows = {Path(r["path"]).name: r for r in _scan_in_children(list(bomb_paths.values()))}
    problems = []
    for fam in bombs.FAMILIES:
        row = rows[bomb_paths[fam.name].name]
        if row["verdict"] not in fam.verdicts:
            problems.append(f"{fam.name}: verdict {row['verdict']}, expected {fam.verdicts}")
        if row["peak"] > PEAK_BOUND:
            problems.append(f"{fam.name}: peak {row['peak'] >> 20} MiB")
    assert not problems, problems


def test_a_payload_before_a_spent_work_budget_is_kept() -> None:
    # 3M opcodes after the payload, gzipped: the budget of a 6 KB file stops the read,
    # and the gadget found before it stays.
    body = bombs.PROTO2 + bombs.PAYLOAD_OPS + b"0" + b"N0" * 1_500_000 + b"N."
    result = scan_bytes(gzip.compress(body), name="x.pkl.gz")
    assert result.verdict.value == "dangerous"
    assert any("work budget" in f.message for f in result.findings)


def test_the_work_budget_is_shared_by_every_stream_of_a_file() -> None:
    # Ten concatenated pickles of 200k opcodes each: one file, one budget.
    stream = bombs.PROTO2 + b"N0" * 100_000 + b"N."
    with spending(Budget.for_input(0)) as budget:
        from torchvet.containers.base import ContainerScan, ScanContext
        from torchvet.containers.rawpickle import scan_pickle_streams
        from torchvet.policy.judge import Policy
        from torchvet.policy.verdict import judge_observations

        scan = ContainerScan("pickle")
        ctx = ScanContext(Policy.for_torch(), Limits())
        scan_pickle_streams(stream * 10, ctx, scan, "")
    assert budget.work <= 0
    assert sum(t.ops for t in scan.streams) <= budget.work_total + 1
    findings = judge_observations(scan.observations, ctx.policy).findings
    assert sum("work budget" in f.message for f in findings) == 1
