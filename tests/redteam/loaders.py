"""The loader harness: which real loaders run a file's payload, and torchvet's verdict.

``run_all(paths, tmpdir)`` loads every file with every loader in ``worker.LOADERS``
(and, where an unsafe loader fired, again under ``torchvet.guard()``), and scans it
with ``torchvet.scan_file`` and ``torchvet scan``. The work runs in a few long-lived
subprocesses (``tests/redteam/worker.py``) that import the heavy libraries once and
fork children for the loads; file jobs are spread over ``workers`` loader processes
and as many light (torchvet only) scan processes. Results are cached per test process by
content hash and file name (torch.load and torchvet read the name too).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.redteam.worker import ADVICE, GUARDED, LOADERS, SAFE, UNSAFE

REPO_ROOT = Path(__file__).resolve().parents[2]
LOAD_TIMEOUT = 20.0  # seconds for one load
SCAN_TIMEOUT = 60.0  # seconds for one scan (scan_file plus the CLI)
NOT_SAFE = ("unknown", "dangerous")  # verdicts that promise nothing about safety

__all__ = [
    "ADVICE",
    "GUARDED",
    "LOADERS",
    "NOT_SAFE",
    "SAFE",
    "UNSAFE",
    "FileResult",
    "Run",
    "run_all",
    "run_check",
]


@dataclass(frozen=True)
class Run:
    """One load or scan in a forked child."""

    fired: bool
    error: str | None
    timed_out: bool
    seconds: float
    maxrss_kib: int
    extra: dict[str, Any] = field(default_factory=dict)  # the scan's verdict, findings, ...


@dataclass
class FileResult:
    path: Path
    loads: dict[str, Run]
    scan: Run | None

    @property
    def fired_by(self) -> list[str]:
        """Unsafe loaders that ran the payload, in LOADERS order."""
        return [name for name in UNSAFE if name in self.loads and self.loads[name].fired]

    @property
    def protected_fired(self) -> list[str]:
        """torchvet.load, the printed advice, guard() or weights_only that ran the payload."""
        names = (*SAFE, *ADVICE, *GUARDED)
        return [name for name in names if name in self.loads and self.loads[name].fired]

    @property
    def verdict(self) -> str | None:
        return None if self.scan is None else self.scan.extra.get("verdict")


_cache: dict[tuple[str, str], Run] = {}


def file_key(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:32] + "/" + path.name


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    paths = (str(REPO_ROOT / "src"), str(REPO_ROOT), env.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    for name in ("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"):
        env.pop(name, None)
    # One thread per process: forking after a thread pool started can deadlock.
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _shards(jobs: list[dict], count: int) -> list[list[dict]]:
    shards: list[list[dict]] = [[] for _ in range(max(1, count))]
    for i, job in enumerate(jobs):
        shards[i % len(shards)].append(job)
    return [s for s in shards if s]


def _spawn(mode: str, jobs: list[dict], tmp: Path, index: int) -> tuple[Any, Path]:
    jobs_file, out_file = tmp / f"{mode}-{index}.json", tmp / f"{mode}-{index}.jsonl"
    jobs_file.write_text(json.dumps(jobs))
    out_file.touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.redteam.worker", mode, str(jobs_file), str(out_file)],
        cwd=tmp,
        env=_child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return proc, out_file


def _collect(procs: list[tuple[Any, Path]], budget: float) -> list[dict]:
    rows = []
    for proc, out_file in procs:
        try:
            _out, err = proc.communicate(timeout=budget)
        except subprocess.TimeoutExpired:
            proc.kill()
            _out, err = proc.communicate()
        rows += [json.loads(line) for line in out_file.read_text().splitlines()]
        if proc.returncode != 0:
            raise RuntimeError(f"red-team worker died: {err.decode(errors='replace')[-2000:]}")
    return rows


def _run_jobs(todo: dict[str, tuple[Path, Sequence[str]]], scan: bool, workers: int) -> None:
    with tempfile.TemporaryDirectory(prefix="redteam-") as tmp_name:
        tmp = Path(tmp_name)
        load_jobs, scan_jobs = [], []
        for i, (key, (path, loaders)) in enumerate(todo.items()):
            base = {"key": key, "path": str(path.resolve()), "workdir": str(tmp / f"f{i}")}
            wanted = [n for n in loaders if (key, n) not in _cache]
            if wanted:
                load_jobs.append({**base, "loaders": wanted, "timeout": LOAD_TIMEOUT})
            if scan and (key, "torchvet.scan") not in _cache:
                scan_jobs.append({**base, "timeout": SCAN_TIMEOUT})
        procs = [_spawn("loaders", s, tmp, i) for i, s in enumerate(_shards(load_jobs, workers))]
        procs += [_spawn("scan", s, tmp, i) for i, s in enumerate(_shards(scan_jobs, workers))]
        loads = sum(len(job["loaders"]) for job in load_jobs)
        budget = 120 + LOAD_TIMEOUT * 2 * loads + SCAN_TIMEOUT * len(scan_jobs)
        for row in _collect(procs, budget):
            key, name = row.pop("key"), row.pop("loader")
            base = {k: row.pop(k) for k in ("fired", "error", "timed_out", "seconds", "maxrss_kib")}
            _cache[(key, name)] = Run(**base, extra=row)


def run_all(
    files: Iterable[Path | tuple[Path, Sequence[str]]],
    *,
    scan: bool = True,
    workers: int | None = None,
) -> dict[Path, FileResult]:
    """Load and scan every file; results by path (see the module docstring).

    ``files``: paths (loaded with every loader) or ``(path, loaders)`` pairs.
    """
    wanted: dict[Path, tuple[str, Sequence[str]]] = {}
    for item in files:
        path, loaders = (item, LOADERS) if isinstance(item, (str, Path)) else item
        wanted[Path(path)] = (file_key(Path(path)), tuple(loaders))
    todo = {}
    for path, (key, loaders) in wanted.items():
        missing = any((key, n) not in _cache for n in loaders)
        if missing or (scan and (key, "torchvet.scan") not in _cache):
            todo[key] = (path, loaders)
    if todo:
        _run_jobs(todo, scan, workers or min(2, os.cpu_count() or 1))
    results = {}
    for path, (key, loaders) in wanted.items():
        names = (*loaders, *GUARDED, *ADVICE)
        loads = {n: _cache[(key, n)] for n in names if (key, n) in _cache}
        results[path] = FileResult(
            path, loads, _cache.get((key, "torchvet.scan")) if scan else None
        )
    return results


def run_check(files: dict[str, tuple[Path, str]], folder: Path) -> tuple[int, dict[str, Any]]:
    """``torchvet check --format json`` over a folder holding each file under its own
    subfolder and name (``files``: id -> (path, name)). Returns the exit code and each
    id's entry in the report's model list (None when check did not report it)."""
    names = {}
    folder.mkdir(parents=True, exist_ok=True)
    for i, (case_id, (path, name)) in enumerate(files.items()):
        target = folder / f"f{i}" / name
        target.parent.mkdir(parents=True)
        shutil.copyfile(path, target)
        names[case_id] = f"f{i}/{name}"
    env = {**_child_env(), "PYTHONPATH": str(REPO_ROOT / "src")}
    env.pop("TORCHVET_DEBUG", None)  # what users get: internal errors fail closed
    proc = subprocess.run(
        [sys.executable, "-m", "torchvet", "check", "--format", "json", "."],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    models = {Path(m["path"]).as_posix().removeprefix("./"): m for m in report["models"]}
    return proc.returncode, {case_id: models.get(n) for case_id, n in names.items()}
