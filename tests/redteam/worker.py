"""Runs in a subprocess: load (or scan) files in forked children.

``python -m tests.redteam.worker MODE JOBS OUT``; MODE is ``loaders`` (imports torch,
numpy, pandas, joblib and torchvet once, then forks a child per batch of loads of one
file) or ``scan`` (imports only torchvet and forks a child per scan, so a child's peak
RSS is the scan's own). Every load runs in a fresh working directory (the payload
writes ``redteam.marker`` there) with silenced stdio, an address-space cap and a
deadline. One JSON line per result is appended to OUT as soon as it is known.

After the loaders of ``LOADERS``, follow-ups run in a second batch: every unsafe loader
that fired again under ``torchvet.guard()`` ("guard:<loader>"; a guard can only
refuse, so a load that does not fire unguarded cannot fire guarded), and, when
torchvet.load refused the file with an allowlist, its printed advice.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

MARKER = "redteam.marker"
# Extensions from which pandas.read_pickle infers a compression ("" = none).
PANDAS_SUFFIXES = ("", ".gz", ".bz2", ".xz", ".zip", ".zst", ".tar", ".tar.gz")
PANDAS = tuple(f"pandas{s}" for s in PANDAS_SUFFIXES)
UNSAFE = (
    "pickle.load",
    "pickle.load_all",
    "pickle._Unpickler",
    "joblib.load",
    "numpy.load",
    *PANDAS,
    "torch.load",
)
# Loaders that must never run a payload: torch's own weights-only load, torchvet's.
SAFE = ("torch.load(weights_only)", "torchvet.load")
LOADERS = (*UNSAFE, *SAFE)
# Follow-ups: an unsafe loader that fired, under guard(); torchvet's printed advice,
# when torchvet.load refused a file with an allowlist that would make it load.
GUARDED = tuple(f"guard:{name}" for name in UNSAFE if name != "pickle.load")
ADVICE = ("torchvet.load(allow)", "advice")
LOAD_BUDGET = 512 << 20  # address space a batch may add (a 1 TiB storage fails fast)
SCAN_BUDGET = 2 << 30


# -- loaders (run in the forked child) ---------------------------------------------------
# Each takes the file, the hints found so far (the allowlist torchvet.load printed) and a
# dict it may fill with what later loaders need; the loaded object itself is dropped.
Loader = Callable[[str, dict, dict], None]


def _load_until_eof(unpickler: Callable[[Any], Any]) -> Loader:
    def load(path: str, hints: dict, extra: dict) -> None:
        with open(path, "rb") as f:
            while f.peek(1):
                unpickler(f).load()

    return load


def _pickle_load(path: str, hints: dict, extra: dict) -> None:
    import pickle

    with open(path, "rb") as f:
        pickle.load(f)


def _joblib_load(path: str, hints: dict, extra: dict) -> None:
    import joblib

    joblib.load(path)


def _numpy_load(path: str, hints: dict, extra: dict) -> None:
    import numpy

    loaded = numpy.load(path, allow_pickle=True)
    for name in getattr(loaded, "files", ()):
        loaded[name]


def _pandas(suffix: str) -> Loader:
    def load(path: str, hints: dict, extra: dict) -> None:
        import pandas

        link = os.path.abspath("input" + suffix)
        os.symlink(path, link)
        pandas.read_pickle(link)

    return load


def _torch_load(weights_only: bool) -> Loader:
    def load(path: str, hints: dict, extra: dict) -> None:
        import torch

        torch.load(path, weights_only=weights_only, map_location="cpu")

    return load


def _torchvet_load(path: str, hints: dict, extra: dict) -> None:
    import torchvet

    try:
        torchvet.load(path, map_location="cpu")
    except torchvet.UnsafeCheckpointError as exc:
        extra["allowlist"] = list(exc.allowlist)
        raise


def _torchvet_load_allow(path: str, hints: dict, extra: dict) -> None:
    """Follow torchvet's advice: torchvet.load with the allowlist it printed."""
    import torchvet

    torchvet.load(path, map_location="cpu", allow=hints["allowlist"])


def _advice(path: str, hints: dict, extra: dict) -> None:
    """Run the torch-only ``safe_globals([...])`` code torchvet prints for the file."""
    from torchvet.policy.snippet import allowlist_code

    exec(allowlist_code(hints["allowlist"], path), {})


def _guarded(load: Loader) -> Loader:
    def run(path: str, hints: dict, extra: dict) -> None:
        import torchvet

        with torchvet.guard():
            load(path, hints, extra)

    return run


def loader_table() -> dict[str, Loader]:
    import pickle

    table: dict[str, Loader] = {
        "pickle.load": _pickle_load,
        "pickle.load_all": _load_until_eof(pickle.Unpickler),
        "pickle._Unpickler": _load_until_eof(pickle._Unpickler),  # type: ignore[attr-defined]
        "joblib.load": _joblib_load,
        "numpy.load": _numpy_load,
        **{f"pandas{s}": _pandas(s) for s in PANDAS_SUFFIXES},
        "torch.load": _torch_load(False),
        "torch.load(weights_only)": _torch_load(True),
        "torchvet.load": _torchvet_load,
        "torchvet.load(allow)": _torchvet_load_allow,
        "advice": _advice,
    }
    for name in GUARDED:
        table[name] = _guarded(table[name.removeprefix("guard:")])
    return table


def followups(name: str, result: dict) -> list[str]:
    """Loads worth running because of this one's result (see the module docstring)."""
    if result["fired"] and f"guard:{name}" in GUARDED:
        return [f"guard:{name}"]
    if name == "torchvet.load" and result.get("allowlist"):
        return list(ADVICE)
    return []


# -- scanning (run in the forked child) --------------------------------------------------
def scan(path: str) -> dict[str, Any]:
    """torchvet.scan_file, then the CLI on the same file (exit code and JSON verdict)."""
    os.environ.pop("TORCHVET_DEBUG", None)  # the verdict users get: internal errors fail closed
    from torchvet.cli import main
    from torchvet.scan import scan_file

    result = scan_file(path)
    findings = [
        [f.category.value, f.view or "torch.load", f.global_name, f.message[:160]]
        for f in result.findings
    ]
    report = os.path.abspath("report.json")
    exit_code = main(["scan", "--format", "json", "-o", report, path])
    with open(report) as f:
        cli_verdict = json.load(f)["files"][0]["verdict"]
    return {
        "verdict": result.verdict.value,
        "format": result.format,
        "findings": findings,
        "allowlist": list(result.allowlist),
        "cli_exit": exit_code,
        "cli_verdict": cli_verdict,
    }


# -- the fork loop -----------------------------------------------------------------------
def describe(exc: BaseException) -> str:
    """ "Type: first line of the message", as recorded for a load that raised."""
    return type(exc).__name__ + ": " + (str(exc).strip().splitlines() or [""])[0][:300]


def _limit_address_space(budget: int) -> None:
    with open("/proc/self/status") as f:
        size_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, ((size_kib << 10) + budget, hard))


def _child(action: Callable[[], Any], workdir: str, budget: int) -> None:
    """In the forked child: never returns."""
    code = 0
    try:
        os.chdir(workdir)
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        _limit_address_space(budget)
        outcome = action()
        if outcome is not None:
            text = json.dumps(outcome)
            with open(".outcome.json", "w") as f:
                f.write(text)
    except BaseException as exc:
        with open(".error", "w") as f:
            f.write(describe(exc))
        code = 1
    os._exit(code)


def run_forked(action: Callable[[], Any], workdir: str, timeout: float, budget: int) -> dict:
    os.makedirs(workdir, exist_ok=True)
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(action, workdir, budget)
    timed_out, rusage = False, None
    while True:
        done, _status, rusage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - start > timeout:
            os.kill(pid, signal.SIGKILL)
            _pid, _status, rusage = os.wait4(pid, 0)
            timed_out = True
            break
        time.sleep(0.001)
    result: dict[str, Any] = {
        "fired": os.path.exists(os.path.join(workdir, MARKER)),
        "error": _read(os.path.join(workdir, ".error")),
        "timed_out": timed_out,
        "seconds": round(time.monotonic() - start, 4),
        "maxrss_kib": rusage.ru_maxrss,
    }
    outcome = _read(os.path.join(workdir, ".outcome.json"))
    if outcome is not None:
        result.update(json.loads(outcome))
    return result


def _read(path: str) -> str | None:
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return f.read()


def _import_heavy() -> None:
    warnings.simplefilter("ignore")
    import joblib  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import torch  # noqa: F401

    import torchvet.guarding
    import torchvet.safeload
    import torchvet.scan  # noqa: F401


def _warm_up(run: Callable[[str], None]) -> None:
    """Run ``run`` on a benign torch checkpoint and a benign pickle in this process, so
    that the lazy imports and caches of the first call are paid once, not per child."""
    import gzip
    import pickle
    import tempfile

    from tests.redteam.builders import benign_pickle, build_zip, torch_zip_members

    with tempfile.TemporaryDirectory(prefix="redteam-warm-") as tmp:
        files = {
            "w.pt": build_zip(torch_zip_members(benign_pickle())),
            "w.pkl": pickle.dumps([1, 2], protocol=2),
            "w.pkl.gz": gzip.compress(pickle.dumps([1, 2], protocol=2)),
        }
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            for name, data in files.items():
                with open(name, "wb") as f:
                    f.write(data)
                with contextlib.suppress(Exception):
                    run(os.path.join(tmp, name))
        finally:
            os.chdir(cwd)


def _emit(out: Any, job: dict, name: str, result: dict) -> None:
    out.write(json.dumps({"key": job["key"], "loader": name, **result}) + "\n")
    out.flush()


# -- batches of loads in one child ----------------------------------------------------------
# A fork of a process that imported torch costs tens of milliseconds, more than most
# loads here; so one child runs a whole batch of loads of one file, each in its own
# folder (the marker says which load fired), reporting each as it starts and ends. The
# parent kills a child whose current load passes its deadline and resumes the batch
# after that load in a new child.
def _batch_child(
    table: dict[str, Loader], job: dict, names: list[str], hints: dict, log: str
) -> None:
    with open(log, "a") as out:
        for name in names:
            workdir = os.path.join(job["workdir"], name)
            os.makedirs(workdir, exist_ok=True)
            os.chdir(workdir)
            out.write(json.dumps({"start": name}) + "\n")
            out.flush()
            start, extra, error = time.monotonic(), {}, None
            try:
                table[name](job["path"], hints, extra)
            except BaseException as exc:
                error = describe(exc)
            result = {
                "fired": os.path.exists(MARKER),
                "error": error,
                "timed_out": False,
                "seconds": round(time.monotonic() - start, 4),
                "maxrss_kib": 0,
                **extra,
            }
            out.write(json.dumps({"done": name, "result": result}) + "\n")
            out.flush()


def _fork_batch(
    table: dict[str, Loader], job: dict, names: list[str], hints: dict, log: str
) -> int:
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _limit_address_space(LOAD_BUDGET)
            _batch_child(table, job, names, hints, log)
        except BaseException:
            code = 1
        os._exit(code)
    return pid


def _watch(pid: int, log: str, timeout: float) -> tuple[dict[str, dict], str | None, str]:
    """Wait for a batch child; (results, the load running when it ended, why it ended)."""
    results: dict[str, dict] = {}
    current, started, offset = None, time.monotonic(), 0
    while True:
        done, status, _rusage = os.wait4(pid, os.WNOHANG)
        with open(log) as f:
            f.seek(offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        offset += len(complete.encode())
        for line in complete.splitlines():
            event = json.loads(line)
            if "start" in event:
                current, started = event["start"], time.monotonic()
            else:
                results[event["done"]] = event["result"]
                current = None
        if done:
            return results, current, f"exit status {status}"
        if current is not None and time.monotonic() - started > timeout:
            os.kill(pid, signal.SIGKILL)
            os.wait4(pid, 0)
            return results, current, "timeout"
        time.sleep(0.002)


def run_batch(
    table: dict[str, Loader], job: dict, names: list[str], hints: dict
) -> dict[str, dict]:
    os.makedirs(job["workdir"], exist_ok=True)
    results: dict[str, dict] = {}
    queue = list(names)
    while queue:
        log = os.path.join(job["workdir"], f".log-{queue[0]}")
        open(log, "w").close()
        pid = _fork_batch(table, job, queue, hints, log)
        done, current, why = _watch(pid, log, job["timeout"])
        results.update(done)
        left = [n for n in queue if n not in done]
        if not left:
            break
        stuck = current if current in left else left[0]  # a child that died before starting
        results[stuck] = {
            "fired": os.path.exists(os.path.join(job["workdir"], stuck, MARKER)),
            "error": None if why == "timeout" else f"Crash: {why}",
            "timed_out": why == "timeout",
            "seconds": job["timeout"] if why == "timeout" else 0.0,
            "maxrss_kib": 0,
        }
        queue = left[left.index(stuck) + 1 :]
    return results


def run_loaders(jobs: list[dict], out: Any) -> None:
    _import_heavy()
    table = loader_table()
    for name in (*LOADERS, *GUARDED):
        if name.startswith("pandas"):
            continue  # pandas' loaders make links in the working directory
        _warm_up(lambda path, name=name: table[name](path, {}, {}))
    _warm_up(lambda path: __import__("pandas").read_pickle(path))
    for job in jobs:
        first = run_batch(table, job, job["loaders"], {})
        hints = {"allowlist": first.get("torchvet.load", {}).get("allowlist", [])}
        later = [f for name, result in first.items() for f in followups(name, result)]
        second = run_batch(table, job, later, hints) if later else {}
        for name, result in {**first, **second}.items():
            _emit(out, job, name, result)


def run_scans(jobs: list[dict], out: Any) -> None:
    import torchvet.cli
    import torchvet.scan  # noqa: F401

    for job in jobs:
        workdir = os.path.join(job["workdir"], "scan")
        result = run_forked(lambda job=job: scan(job["path"]), workdir, job["timeout"], SCAN_BUDGET)
        _emit(out, job, "torchvet.scan", result)


def main(argv: list[str]) -> int:
    mode, jobs_file, out_file = argv
    with open(jobs_file) as f:
        jobs = json.load(f)
    with open(out_file, "a") as out:
        (run_loaders if mode == "loaders" else run_scans)(jobs, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
