"""The oracle: what real torch does with a file, computed in a separate process.

Two questions, each answered in a subprocess so payloads, crashes and process-global
allowlist state never reach the test process:

* `weights_only_accepts(path)`: does `torch.load(path, weights_only=True,
  map_location="cpu")` succeed in a fresh `import torch` process? (batch form:
  `weights_only_batch`, one process for many files).
* `payload_fires(record, tmpdir)`: does the malicious file's payload run (its marker
  file appear) when loaded unsafely with its trigger? (batch form: `payload_fires_batch`,
  one process that forks a child per file after importing torch/numpy/joblib once).

Results are cached per process by file content hash (and options).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.corpus.record import CorpusFile

REPO_ROOT = Path(__file__).resolve().parents[2]
BATCH_TIMEOUT = 300  # seconds for a whole batch process
FIRE_TIMEOUT = 30.0  # seconds for one unsafe load


@dataclass(frozen=True)
class OracleResult:
    """Outcome of `torch.load(..., weights_only=True)`.

    `message` is the first line of the error; `detail` is the line that names the cause
    (for wrapped UnpicklingErrors the first line is only torch's generic preamble).
    """

    ok: bool
    error_type: str | None = None
    message: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class FireResult:
    fired: bool
    error: str | None = None  # exception raised by the trigger call, "Type: first line"
    timed_out: bool = False


# -- weights_only ----------------------------------------------------------------------
# Runs in the child. Items sharing no pre-imports run first, in input order, so that
# an import made for one file (torch._dynamo) never changes the verdict on another.
_WO_SCRIPT = r"""
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
import torch

def resolve(name):
    module, _, attr = name.rpartition(".")
    parts = [attr]
    while True:
        try:
            obj = importlib.import_module(module)
            break
        except ImportError:
            module, _, head = module.rpartition(".")
            parts.insert(0, head)
    for part in parts:
        obj = getattr(obj, part)
    return obj

def detail(text):
    # The cause follows "WeightsUnpickler error:" (same line or the next non-empty one);
    # other errors name it in their first line.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if "WeightsUnpickler error:" in line:
            rest = line.split("WeightsUnpickler error:", 1)[1].strip()
            return rest or (lines[i + 1] if i + 1 < len(lines) else "")
    for line in lines:
        if "Trying to load unsupported" in line or "must be imported" in line:
            return line
    return lines[0] if lines else ""

items = json.load(open(sys.argv[1]))
out = open(sys.argv[2], "a")
for item in sorted(items, key=lambda it: bool(it["preimport"])):
    for module in item["preimport"]:
        importlib.import_module(module)
    result = {"key": item["key"], "ok": True, "error_type": None, "message": None,
              "detail": None}
    try:
        allow = [(resolve(n), n) for n in item["allow"]]
        with torch.serialization.safe_globals(allow):
            torch.load(item["path"], weights_only=True, map_location="cpu")
    except Exception as exc:
        text = str(exc)
        result.update(ok=False, error_type=type(exc).__name__,
                      message=(text.strip().splitlines() or [""])[0], detail=detail(text))
    out.write(json.dumps(result) + "\n")
    out.flush()
"""

_wo_cache: dict[str, OracleResult] = {}


def _digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def skip_without_torch() -> None:
    """Skip the calling test where torch is not installed: the oracle *is* real torch."""
    if importlib.util.find_spec("torch") is None:
        import pytest  # only tests reach here without torch; scripts need torch anyway

        pytest.skip("the oracle needs torch")


def _wo_key(path: Path, preimport: Sequence[str], allow: Sequence[str]) -> str:
    return json.dumps([_digest(path), Path(path).suffix, sorted(preimport), sorted(allow)])


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
    env.pop("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", None)
    return env


def weights_only_batch(
    requests: Iterable[tuple[Path, Sequence[str], Sequence[str]]],
) -> list[OracleResult]:
    """Judge many `(path, preimport, allow)` requests in as few processes as possible.

    `allow` names ("module.name") are resolved in the child and passed to
    `torch.serialization.safe_globals` for that file only. If the child dies (a crash
    in torch), the file being loaded is reported as `error_type="Crash"` and the rest
    continue in a new process.
    """
    skip_without_torch()
    requests = [(Path(p), tuple(pre), tuple(allow)) for p, pre, allow in requests]
    keys = [_wo_key(*r) for r in requests]
    todo = {k: r for k, r in zip(keys, requests, strict=True) if k not in _wo_cache}
    while todo:
        with tempfile.TemporaryDirectory(prefix="torchvet-oracle-") as tmp:
            req_file, out_file = Path(tmp) / "req.json", Path(tmp) / "out.jsonl"
            ordered = sorted(todo.items(), key=lambda kv: bool(kv[1][1]))
            items = [
                {"key": k, "path": str(p), "preimport": list(pre), "allow": list(allow)}
                for k, (p, pre, allow) in ordered
            ]
            req_file.write_text(json.dumps(items))
            out_file.touch()
            proc = subprocess.run(
                [sys.executable, "-c", _WO_SCRIPT, str(req_file), str(out_file)],
                cwd=tmp,
                env=_child_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=BATCH_TIMEOUT,
            )
            for line in out_file.read_text().splitlines():
                row = json.loads(line)
                key = row.pop("key")
                _wo_cache[key] = OracleResult(**row)
                todo.pop(key, None)
            if todo and proc.returncode != 0:
                # The first unanswered item is the one that killed the child.
                crashed = next(k for k, _ in ordered if k in todo)
                tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:]
                _wo_cache[crashed] = OracleResult(
                    False, "Crash", f"exit status {proc.returncode}", " ".join(tail)
                )
                todo.pop(crashed)
            elif todo:
                raise RuntimeError("oracle child exited cleanly without answering")
    return [_wo_cache[k] for k in keys]


def weights_only_files(files: dict[str, bytes], root: Path) -> dict[str, tuple[Path, OracleResult]]:
    """Write each of ``files`` to ``root/NAME.pt`` and judge them all in one batch."""
    paths = {}
    for name, data in files.items():
        paths[name] = root / f"{name}.pt"
        paths[name].write_bytes(data)
    results = weights_only_batch([(p, (), ()) for p in paths.values()])
    return {name: (paths[name], res) for name, res in zip(paths, results, strict=True)}


def weights_only_accepts(
    path: Path | str, *, preimport: Sequence[str] = (), allow: Sequence[str] = ()
) -> OracleResult:
    """`torch.load(path, weights_only=True, map_location="cpu")` in a fresh process.

    `preimport`: modules imported first (e.g. "torch._dynamo" for NJT files).
    `allow`: global names to allowlist for this load (what `--allow` would pass).
    """
    return weights_only_batch([(Path(path), preimport, allow)])[0]


# -- payload firing --------------------------------------------------------------------
# The child imports the heavy libraries once, then forks one grandchild per file:
# each load runs in its own process (crash and global-state isolation) at fork cost.
_FIRE_SCRIPT = r"""
import json, os, pickle, signal, sys, time, warnings
warnings.simplefilter("ignore")
import numpy, joblib, torch

def trigger(kind, path):
    if kind == "pickle.load":
        with open(path, "rb") as f:
            pickle.load(f)
    elif kind == "pickle.load_all":
        with open(path, "rb") as f:
            while True:
                try:
                    pickle.load(f)
                except EOFError:
                    break
    elif kind == "torch.load":
        torch.load(path, weights_only=False, map_location="cpu")
    elif kind == "torch.jit.load":
        torch.jit.load(path, map_location="cpu")
    elif kind == "joblib.load":
        joblib.load(path)
    elif kind == "numpy.load":
        loaded = numpy.load(path, allow_pickle=True)
        if hasattr(loaded, "files"):
            for name in loaded.files:
                loaded[name]
    else:
        raise ValueError(kind)

items = json.load(open(sys.argv[1]))
out = open(sys.argv[2], "a")
for item in items:
    marker, workdir = item["marker"], item["workdir"]
    if os.path.exists(marker):
        os.remove(marker)
    os.makedirs(workdir, exist_ok=True)
    report = os.path.join(workdir, ".trigger-error")
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.chdir(workdir)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            trigger(item["trigger"], item["path"])
        except BaseException as exc:
            with open(report, "w") as f:
                f.write(type(exc).__name__ + ": " + (str(exc).strip().splitlines() or [""])[0])
            code = 1
        os._exit(code)
    deadline = time.monotonic() + item["timeout"]
    timed_out = False
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            timed_out = True
            break
        time.sleep(0.002)
    fired = os.path.exists(marker)
    # Payloads that start a process without waiting for it (asyncio, Popen) may finish
    # just after the loader returns: give the marker a short grace period.
    grace = time.monotonic() + item["grace"]
    while not fired and time.monotonic() < grace:
        time.sleep(0.01)
        fired = os.path.exists(marker)
    error = open(report).read() if os.path.exists(report) else None
    out.write(json.dumps({"id": item["id"], "fired": fired, "error": error,
                          "timed_out": timed_out}) + "\n")
    out.flush()
"""

_fire_cache: dict[str, FireResult] = {}


def _fire_key(record: CorpusFile) -> str:
    return json.dumps([_digest(record.path), record.trigger, str(record.marker)])


def payload_fires_batch(
    records: Sequence[CorpusFile], tmpdir: Path, *, grace: float = 2.0
) -> dict[str, FireResult]:
    """Load every malicious record unsafely with its trigger; report whether it fired.

    Each load runs with its working directory in a fresh folder under `tmpdir`.
    Markers left by an earlier run are removed first. Records tagged "slow-payload"
    (payloads that start a process without waiting) get up to `grace` seconds for the
    marker to appear after the load returns. Returns results by record id.
    """
    skip_without_torch()
    results: dict[str, FireResult] = {}
    todo = []
    for rec in records:
        if rec.kind != "malicious" or rec.marker is None or not rec.trigger:
            raise ValueError(f"{rec.id}: not a malicious record with a marker and trigger")
        key = _fire_key(rec)
        if key in _fire_cache:
            results[rec.id] = _fire_cache[key]
        else:
            todo.append((key, rec))
    if not todo:
        return results
    tmpdir = Path(tmpdir)
    tmpdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fire-", dir=tmpdir) as tmp:
        items = [
            {
                "id": rec.id,
                "path": str(rec.path.resolve()),
                "marker": str(rec.marker),
                "trigger": rec.trigger,
                "workdir": str(Path(tmp) / f"cwd-{i}"),
                "timeout": FIRE_TIMEOUT,
                "grace": grace if "slow-payload" in rec.tags else 0.0,
            }
            for i, (_key, rec) in enumerate(todo)
        ]
        req_file, out_file = Path(tmp) / "req.json", Path(tmp) / "out.jsonl"
        req_file.write_text(json.dumps(items))
        out_file.touch()
        # One thread per process: forking after torch started a thread pool can deadlock.
        env = {**_child_env(), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", _FIRE_SCRIPT, str(req_file), str(out_file)],
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=BATCH_TIMEOUT + FIRE_TIMEOUT * len(items),
        )
        rows = {r["id"]: r for r in map(json.loads, out_file.read_text().splitlines())}
        if len(rows) != len(items):
            raise RuntimeError(
                "payload oracle died: " + proc.stderr.decode(errors="replace")[-2000:]
            )
    by_id = {rec.id: (key, rec) for key, rec in todo}
    for rid, row in rows.items():
        result = FireResult(row["fired"], row["error"], row["timed_out"])
        _fire_cache[by_id[rid][0]] = result
        results[rid] = result
    return results


def payload_fires(record: CorpusFile, tmpdir: Path) -> bool:
    """Whether `record`'s payload creates its marker when loaded with its trigger."""
    return payload_fires_batch([record], tmpdir)[record.id].fired
