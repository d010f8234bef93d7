"""Run one command as a whole process tree and measure it.

Wall time is taken around spawn..reap. Memory is reported two ways:

* ``max_rss_kib``: the largest resident set of any single process in the tree (the tool
  or any descendant it reaped), as GNU ``/usr/bin/time -f %M`` reports it. Not the
  harness's own ``wait4`` rusage: Linux carries the RSS high-water mark of the forking
  process across exec, so every child would inherit the harness's size as a floor.
  Without /usr/bin/time that contaminated rusage is the fallback (``rss_source``);
* ``peak_tree_rss_kib``: optional sampling of the summed RSS of every live process in the
  child's session, which also catches tools that fan out to worker processes.

A timeout kills the whole process group, so a hung tool never hangs the harness.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024
GNU_TIME = "/usr/bin/time"


def _time_rss(text: str) -> tuple[int | None, str]:
    """Parse ``/usr/bin/time -f %M`` output (its last line; KiB)."""
    last = text.strip().splitlines()[-1:] or [""]
    return (int(last[0]), "time") if last[0].isdigit() else (None, "")


@dataclass
class ProcResult:
    argv: list[str]
    returncode: int | None  # None when killed by the timeout
    wall_s: float
    max_rss_kib: int
    peak_tree_rss_kib: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    spawn_error: str | None = None
    rss_source: str = "time"
    extra: dict[str, object] = field(default_factory=dict)


def _session_rss_kib(sid: int) -> int:
    """Sum RSS over live processes whose session id is ``sid`` (our child's session)."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # Fields after the ")" that closes comm: state ppid pgrp session ... rss is field 24.
        rest = stat[stat.rfind(b")") + 2 :].split()
        if int(rest[3]) == sid:
            total += int(rest[21]) * _PAGE_KIB
    return total


class _Sampler(threading.Thread):
    def __init__(self, sid: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.sid, self.interval_s = sid, interval_s
        self.peak_kib = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak_kib = max(self.peak_kib, _session_rss_kib(self.sid))
            self.stop.wait(self.interval_s)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run(
    argv: list[str],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    sample_tree_rss: bool = False,
    sample_interval_s: float = 0.05,
) -> ProcResult:
    """Run ``argv`` to completion (or timeout) and measure the whole process tree."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file,
    ):
        wrapped = argv
        if os.access(GNU_TIME, os.X_OK):
            wrapped = [GNU_TIME, "-q", "-f", "%M", "-o", rss_file.name, *argv]
        start = time.perf_counter()
        try:
            proc = subprocess.Popen(
                wrapped,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=env,
                cwd=cwd,
                start_new_session=True,  # own process group: timeouts kill the whole tree
            )
        except OSError as exc:
            return ProcResult(argv, None, 0.0, 0, None, "", "", spawn_error=str(exc))
        sampler = _Sampler(proc.pid, sample_interval_s) if sample_tree_rss else None
        if sampler:
            sampler.start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout_s, on_timeout)
        timer.start()
        try:
            # wait4 rather than Popen.wait: it hands back the child's rusage.
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from re-reaping
        _kill_group(proc.pid)  # stragglers a tool left behind
        if sampler:
            sampler.stop.set()
            sampler.join()
        out.seek(0)
        err.seek(0)
        rss_kib, source = _time_rss(rss_file.read()) if wrapped is not argv else (None, "")
        return ProcResult(
            argv=argv,
            returncode=None if timed_out.is_set() else proc.returncode,
            wall_s=wall,
            max_rss_kib=rss_kib if rss_kib is not None else usage.ru_maxrss,
            rss_source=source if rss_kib is not None else "rusage (includes harness)",
            peak_tree_rss_kib=sampler.peak_kib if sampler else None,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=timed_out.is_set(),
            # CPU of the whole tree (wait4 includes the children it reaped): unlike wall
            # time, it does not grow with the machine's load.
            extra={"cpu_s": usage.ru_utime + usage.ru_stime},
        )
