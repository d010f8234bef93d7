"""`torchvet check` as a person runs it: a progress bar on a terminal, Ctrl-C mid-run.

Ctrl-C is made deterministic with a named pipe called `stuck.pt`: opening it for reading
blocks until a writer appears, so the check is certainly in the middle of a file when
SIGINT arrives (the kernel says so: the reader waits in `wait_for_partner`).
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .helpers import REPO, make_project

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    for name in ("FORCE_COLOR", "NO_COLOR", "TERM"):
        env.pop(name, None)
    return env


def _blocked_on_fifo(root_pid: int) -> bool:
    """Is the process, or one of its children, waiting for a FIFO writer?"""
    pids = [root_pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == root_pid:
                pids.append(int(entry.name))
    for pid in pids:
        try:
            if Path(f"/proc/{pid}/wchan").read_text().strip() == "wait_for_partner":
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_stops_cleanly_with_a_partial_summary(tmp_path: Path, jobs: str) -> None:
    make_project(tmp_path)
    os.mkfifo(tmp_path / "stuck.pt")
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchvet", "check", "--jobs", jobs, "src", "stuck.pt", "data"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        for _ in range(600):  # wait (up to a minute) for the reader to block, then Ctrl-C
            if _blocked_on_fifo(proc.pid) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()
        if Path(f"/proc/{proc.pid}/wchan").read_text().strip() == "0":
            pytest.skip("this kernel hides wchan")
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err
    last = out.splitlines()[-1]
    assert last.startswith("torchvet check interrupted after ")
    assert "(partial results)" in last


def test_progress_bar_on_a_terminal_only(tmp_path: Path) -> None:
    make_project(tmp_path)
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "torchvet", "check", "-q"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    out = proc.stdout.read() if proc.stdout else b""
    proc.wait(timeout=60)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end is closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert proc.returncode == 1
    assert b"torchvet check" in drawn and b"/10" in drawn  # description and file count
    assert b"\x1b[" not in out  # the report itself went to a pipe: plain text
