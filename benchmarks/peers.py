"""Adapters: how to run each scanner as a whole process, and how to read its answer.

Every adapter turns one run into a ``Parsed`` outcome:

* ``flagged`` — the tool calls the input unsafe / suspicious / dangerous at any severity it
  counts as an issue (its own "issues found" threshold, noted per adapter);
* ``clean``   — the tool scanned it and found nothing;
* ``skipped`` — the tool declined to scan it (unsupported type, filtered by extension);
* ``error``   — the tool reported, in its own output, that it could not read the input;
* ``crash``   — traceback, timeout, usage error, or no parseable result.

Peers live in their own venvs (``benchmarks/setup_peers.sh``); torchvet runs from a source
checkout under the project's venv. Nothing here imports any scanner.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import measure

FLAGGED, CLEAN, SKIPPED, ERROR, CRASH = "flagged", "clean", "skipped", "error", "crash"
OUTCOMES = (FLAGGED, CLEAN, SKIPPED, ERROR, CRASH)
HERE = Path(__file__).resolve().parent


@dataclass
class Parsed:
    outcome: str
    detail: str = ""
    files_reported: int | None = None


@dataclass
class Context:
    peer_venvs: Path
    torchvet_repo: Path
    torchvet_python: Path


def _traceback_tail(*texts: str) -> str | None:
    """Last line of a Python traceback in any of ``texts`` (the exception), else None."""
    for text in texts:
        if "Traceback (most recent call last)" in text:
            tail = text[text.rfind("Traceback (most recent call last)") :].strip().splitlines()
            return tail[-1][:200] if tail else "traceback"
    return None


def _first_line(text: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if ln.strip()), "")[:200]


def _walk_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        else:
            files.append(p)
    return files


class Tool:
    """Base adapter. Subclasses set ``name`` and implement ``argv`` and ``parse``."""

    name = ""
    venv = ""  # directory under Context.peer_venvs
    package = ""  # distribution name, for the version
    dir_mode = True  # False: the tool takes one file per process

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- environment -------------------------------------------------------------------
    @property
    def python(self) -> Path:
        return self.ctx.peer_venvs / self.venv / "bin" / "python"

    def bin(self, name: str) -> Path:
        return self.ctx.peer_venvs / self.venv / "bin" / name

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)  # never let the project's path leak into a peer
        env["NO_COLOR"] = "1"
        env["COLUMNS"] = "200"  # keep rich/click from wrapping what we parse
        return env

    def unavailable_reason(self) -> str | None:
        if not self.python.exists():
            return f"venv missing: {self.python.parent.parent} (run benchmarks/setup_peers.sh)"
        return None

    def version(self) -> str:
        code = f"import importlib.metadata as m; print(m.version({self.package!r}))"
        try:
            out = subprocess.run(
                [str(self.python), "-c", code], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"unknown ({exc})"
        return out.stdout.strip() or f"unknown ({_first_line(out.stderr)})"

    # -- one run -----------------------------------------------------------------------
    def argv(self, paths: list[Path], out: Path) -> list[str]:
        raise NotImplementedError

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        raise NotImplementedError

    def run(
        self, paths: list[Path], *, timeout_s: float, sample_tree_rss: bool = False
    ) -> tuple[measure.ProcResult, Parsed]:
        """Run the tool once on ``paths`` (files or directories) and classify the result."""
        paths = [p.resolve() for p in paths]
        # A fresh cwd per run: modelscan reads ./modelscan-settings.toml and fickling
        # appends to ./safety_results.json by default.
        with tempfile.TemporaryDirectory(prefix=f"bench-{self.name}-") as tmp:
            out = Path(tmp) / "report.json"
            res = measure.run(
                self.argv(paths, out),
                timeout_s=timeout_s,
                env=self.env(),
                cwd=Path(tmp),
                sample_tree_rss=sample_tree_rss,
            )
            if res.spawn_error:
                return res, Parsed(CRASH, f"could not start: {res.spawn_error}")
            if res.timed_out:
                return res, Parsed(CRASH, f"timeout after {timeout_s:.0f} s")
            try:
                parsed = self.parse(res, out)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                tb = _traceback_tail(res.stderr, res.stdout)
                parsed = Parsed(CRASH, tb or f"unparseable output ({type(exc).__name__}: {exc})")
            return res, parsed


# ---- torchvet ------------------------------------------------------------------------


class Torchvet(Tool):
    """``python -m torchvet scan PATH... --format json`` from a source checkout.

    Contract: ``{"files": [{"path", "format", "verdict", "findings"}]}``; exit 0 = all safe,
    1 = anything else, 2 = usage error. ``safe`` -> clean; ``malformed`` -> error (a
    reasoned refusal to read, like peers' parse errors); ``unsupported`` -> skipped;
    ``needs-allowlist`` / ``unknown`` / ``dangerous`` -> flagged (not loadable as is).
    """

    name = "torchvet"
    VERDICTS: ClassVar[dict[str, str]] = {
        "safe": CLEAN,
        "malformed": ERROR,
        "not-a-model": ERROR,
        "unsupported": SKIPPED,
        "needs-allowlist": FLAGGED,
        "unknown": FLAGGED,
        "dangerous": FLAGGED,
    }

    @property
    def python(self) -> Path:
        return self.ctx.torchvet_python

    def env(self) -> dict[str, str]:
        env = super().env()
        env["PYTHONPATH"] = str(self.ctx.torchvet_repo / "src")
        return env

    def unavailable_reason(self) -> str | None:
        if not (self.ctx.torchvet_repo / "src" / "torchvet").is_dir():
            return f"no torchvet source at {self.ctx.torchvet_repo}/src"
        # `scan --help` succeeds even when the scan command is not built yet, so probe the
        # contract itself: a JSON report with exit 0/1 for a tiny pickle.
        with tempfile.TemporaryDirectory() as tmp:
            probe_file = Path(tmp) / "probe.pkl"
            probe_file.write_bytes(b"\x80\x02K\x01.")  # pickle of the int 1
            probe = subprocess.run(
                self.argv([probe_file], probe_file),
                capture_output=True,
                text=True,
                env=self.env(),
                timeout=120,
            )
        try:
            json.loads(probe.stdout)["files"]
        except (ValueError, KeyError, TypeError):
            lines = (probe.stderr + probe.stdout).strip().splitlines()
            why = lines[-1][:200] if lines else f"exit {probe.returncode}"
            return f"`torchvet scan --format json` not available: {why}"
        return None

    def version(self) -> str:
        out = subprocess.run(
            [str(self.python), "-c", "import torchvet; print(torchvet.__version__)"],
            capture_output=True,
            text=True,
            env=self.env(),
            timeout=60,
        )
        rev = subprocess.run(
            ["git", "-C", str(self.ctx.torchvet_repo), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        )
        return f"{out.stdout.strip() or '?'} ({rev.stdout.strip() or 'no git'})"

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        return [str(self.python), "-m", "torchvet", "scan", *map(str, paths), "--format", "json"]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        if res.returncode not in (0, 1):
            tb = _traceback_tail(res.stderr, res.stdout)
            return Parsed(CRASH, tb or f"exit {res.returncode}: {_first_line(res.stderr)}")
        files = json.loads(res.stdout)["files"]
        verdicts = [f["verdict"] for f in files]
        outcomes = [self.VERDICTS.get(v, CRASH) for v in verdicts]
        return Parsed(_worst(outcomes), ",".join(sorted(set(verdicts))), len(files))


def _worst(outcomes: list[str]) -> str:
    """Summarise several files' outcomes (only used for directory runs)."""
    for o in (CRASH, FLAGGED, ERROR, CLEAN, SKIPPED):
        if o in outcomes:
            return o
    return SKIPPED


# ---- picklescan ----------------------------------------------------------------------


class Picklescan(Tool):
    """``picklescan -p PATH`` (one path; text only, no JSON output).

    Exit 0 = no dangerous globals, 1 = dangerous globals, 2 = scan error or unhandled
    exception. Globals it neither allows nor denies are counted as "Suspicious globals"
    but do not change the exit code; they still count as flagged here (the tool calls
    them suspicious). A file it cannot parse as a pickle is logged as a warning and
    reported as scanned with 0 issues, i.e. clean.
    """

    name = venv = package = "picklescan"
    SUMMARY = re.compile(
        r"Scanned files: (\d+)\s+Infected files: (\d+)\s+"
        r"Suspicious globals: (\d+)\s+Dangerous globals: (\d+)"
    )

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        if len(paths) != 1:
            raise ValueError("picklescan takes exactly one path")
        return [str(self.bin("picklescan")), "-p", str(paths[0])]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        text = res.stdout + res.stderr
        m = self.SUMMARY.search(text)
        if m is None:
            tb = _traceback_tail(res.stdout, res.stderr)
            return Parsed(CRASH, tb or f"exit {res.returncode}, no summary")
        scanned, infected, suspicious, dangerous = map(int, m.groups())
        if infected or dangerous:
            return Parsed(FLAGGED, f"dangerous globals: {dangerous}", scanned)
        if suspicious:
            return Parsed(FLAGGED, f"suspicious globals: {suspicious}", scanned)
        if res.returncode == 2:
            return Parsed(ERROR, "scan error", scanned)
        if scanned == 0:
            return Parsed(SKIPPED, "not scanned (extension filter)", 0)
        note = "could not parse as pickle" if "could not parse" in text else ""
        return Parsed(CLEAN, note, scanned)


# ---- modelscan -----------------------------------------------------------------------


class Modelscan(Tool):
    """``modelscan scan -p PATH -r json -o FILE --show-skipped``.

    The JSON goes to ``-o FILE``: the copy modelscan prints to stdout goes through rich and
    is line-wrapped inside strings. Exit 0 = clean, 1 = issues, 2 = scan errors or an
    exception, 3 = no supported file, 4 = usage error. Any issue (LOW..CRITICAL) counts
    as flagged.
    """

    name = venv = package = "modelscan"

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        if len(paths) != 1:
            raise ValueError("modelscan takes exactly one path")
        exe = str(self.bin("modelscan"))
        return [exe, "scan", "-p", str(paths[0]), "-r", "json", "-o", str(out), "--show-skipped"]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        if not out.exists():
            tb = _traceback_tail(res.stdout, res.stderr)
            exc = next((ln for ln in res.stdout.splitlines() if ln.startswith("Exception:")), "")
            return Parsed(CRASH, tb or exc or f"exit {res.returncode}, no report")
        report = json.loads(out.read_text())
        scanned = report["summary"].get("scanned", {}).get("scanned_files", [])
        n_files = len({s.split(":", 1)[0] for s in scanned})
        issues, errors = report.get("issues", []), report.get("errors", [])
        if issues:
            sev = sorted({i.get("severity", "?") for i in issues})
            return Parsed(FLAGGED, f"{len(issues)} issue(s) {'/'.join(sev)}", n_files)
        if errors:
            return Parsed(ERROR, errors[0].get("description", "")[:200], n_files)
        if res.returncode == 3 or not scanned:
            return Parsed(SKIPPED, "no supported file", n_files)
        return Parsed(CLEAN, "", n_files)


# ---- fickling ------------------------------------------------------------------------


def _concatenated_json(text: str) -> list[dict]:
    """fickling appends one JSON object per stacked pickle to the same file."""
    dec, objs, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        obj, pos = dec.raw_decode(text, pos)
        objs.append(obj)
    return objs


class Fickling(Tool):
    """``fickling --check-safety --json-output FILE PICKLE_FILE`` (one file per process).

    Exit 0 = likely safe, 1 = more than LIKELY_SAFE, 2 = could not parse. The CLI reads its
    input as raw stacked pickles, so a torch.save zip ends in exit 2 "No pickle files
    detected". No directory mode: a directory run is a shell loop, one process per file.
    """

    name = venv = package = "fickling"
    dir_mode = False

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        exe = str(self.bin("fickling"))
        files = _walk_files(paths)
        if len(paths) == 1 and paths[0].is_file():
            return [exe, "--check-safety", "--json-output", str(out), str(paths[0])]
        # One process per file, as a user without a directory mode would script it.
        loop = (
            'for f do "$0" --check-safety --json-output /dev/null "$f" >/dev/null; '
            'echo "rc=$?"; done'
        )
        return ["/bin/sh", "-c", loop, exe, *map(str, files)]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        codes = re.findall(r"^rc=(\d+)$", res.stdout, flags=re.M)
        if codes:  # directory loop
            verdicts = [{"0": CLEAN, "1": FLAGGED, "2": ERROR}.get(c, CRASH) for c in codes]
            n = sum(c in ("0", "1") for c in codes)
            return Parsed(_worst(verdicts), f"{len(codes)} processes", n)
        tb = _traceback_tail(res.stderr, res.stdout)
        if tb:
            return Parsed(CRASH, tb)
        if res.returncode == 0:
            return Parsed(CLEAN, "", 1)
        if res.returncode == 1:
            objs = _concatenated_json(out.read_text()) if out.exists() else []
            sev = sorted({o.get("severity", "?") for o in objs} - {"LIKELY_SAFE"})
            return Parsed(FLAGGED, "/".join(sev), 1)
        if res.returncode == 2:
            return Parsed(ERROR, _first_line(res.stderr), 0)
        return Parsed(CRASH, f"exit {res.returncode}")


class FicklingApi(Tool):
    """fickling's library API (``scan_zip_archive`` / ``scan_file``, graceful mode) via
    ``benchmarks/drivers/fickling_scan.py`` in fickling's venv — the way to make fickling
    look inside torch zips. Flagged = any severity above LIKELY_SAFE (fickling maps its
    own parse errors to SUSPICIOUS, so those count as flagged too)."""

    name = "fickling-api"
    venv = package = "fickling"

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        return [str(self.python), str(HERE / "drivers" / "fickling_scan.py"), *map(str, paths)]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        if res.returncode != 0:
            tb = _traceback_tail(res.stderr, res.stdout)
            return Parsed(CRASH, tb or f"exit {res.returncode}")
        files = json.loads(res.stdout)["files"]
        outcomes, details = [], []
        for f in files:
            if "exception" in f:
                outcomes.append(CRASH)
                details.append(f["exception"][:200])
            elif f["unsafe"]:
                outcomes.append(FLAGGED)
                details.append(f["severity"])
            elif f["errors"]:
                outcomes.append(ERROR)
                details.append(f["errors"][0][:200])
            else:
                outcomes.append(CLEAN)
        detail = details[0] if len(files) == 1 and details else f"{len(files)} files"
        return Parsed(_worst(outcomes), detail, sum(o != CRASH for o in outcomes))


# ---- modelaudit ----------------------------------------------------------------------


class Modelaudit(Tool):
    """``modelaudit scan --format json --no-cache -o FILE PATH...``.

    Exit 0 = no issues, 1 = security findings (severity WARNING or CRITICAL; INFO does not
    count), 2 = operational error / inconclusive. Flagged = any WARNING or CRITICAL issue.
    ``--no-cache`` because modelaudit caches results by content and would otherwise time
    a cache hit; telemetry is switched off by environment.
    """

    name = venv = "modelaudit"
    package = "modelaudit"
    ISSUE_LEVELS: ClassVar[frozenset[str]] = frozenset({"warning", "critical"})

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(PROMPTFOO_DISABLE_TELEMETRY="1", NO_ANALYTICS="1")
        return env

    def argv(self, paths: list[Path], out: Path) -> list[str]:
        exe = str(self.bin("modelaudit"))
        return [exe, "scan", "--format", "json", "--no-cache", "-o", str(out), *map(str, paths)]

    def parse(self, res: measure.ProcResult, out: Path) -> Parsed:
        if not out.exists():
            tb = _traceback_tail(res.stderr, res.stdout)
            return Parsed(CRASH, tb or f"exit {res.returncode}, no report")
        report = json.loads(out.read_text())
        n = int(report.get("files_scanned", 0))
        issues = [i for i in report.get("issues", []) if i.get("severity") in self.ISSUE_LEVELS]
        if issues:
            levels = sorted({i["severity"] for i in issues})
            first = next((i for i in issues if i["severity"] == "critical"), issues[0])
            rule = first.get("rule_code") or first.get("type") or ""
            return Parsed(FLAGGED, f"{'/'.join(levels)} {rule}: {first['message'][:120]}", n)
        if res.returncode == 2 or report.get("has_errors"):
            # e.g. "2 PyTorch ZIP members could not be inspected ..." (analysis_incomplete)
            info = next((i["message"] for i in report.get("issues", [])), "")
            return Parsed(ERROR, f"exit {res.returncode} inconclusive: {info[:150]}", n)
        if n == 0:
            return Parsed(SKIPPED, "no file scanned", 0)
        return Parsed(CLEAN, "", n)


class ModelauditTorch(Modelaudit):
    """The same modelaudit with torch importable in its venv (changes its verdicts)."""

    name = venv = "modelaudit-torch"


TOOLS: dict[str, type[Tool]] = {
    t.name: t for t in (Torchvet, Picklescan, Modelscan, Fickling, FicklingApi, Modelaudit)
}
TOOLS[ModelauditTorch.name] = ModelauditTorch


def make_tools(names: list[str], ctx: Context) -> list[Tool]:
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise SystemExit(f"unknown tool(s): {', '.join(unknown)}; known: {', '.join(TOOLS)}")
    return [TOOLS[n](ctx) for n in names]
