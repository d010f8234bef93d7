"""Run a check plan: lint and scan in worker processes, gather results, survive Ctrl-C.

Work is split into small tasks (a few files each) that go to one process pool; each
model candidate is first tested by content (``detect``) and scanned only if it is a
model, so the cheap test runs in parallel too. Results are sorted at the end, so the
output does not depend on ``--jobs`` or on which worker finished first. Workers ignore
SIGINT: on Ctrl-C the main process cancels what has not started, stops the workers and
returns what was done, marked as interrupted.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field, replace
from typing import Protocol

from torchvet.check.detect import model_reason
from torchvet.check.discovery import Candidate, CheckPlan
from torchvet.lint.api import LintWork, lint_files
from torchvet.lint.engine import FileOutcome, Options
from torchvet.lint.model import Diagnostic, Note
from torchvet.policy.judge import Policy
from torchvet.results import ScanResult
from torchvet.scan import scan_file

LINT_CHUNK = 16
MODEL_CHUNK = 2


@dataclass(frozen=True)
class WorkerSetup:
    """What every worker needs; rebuilt in each process (cheap), never pickled per task."""

    torch_version: str | None = None
    allow: tuple[str, ...] = ()
    max_size: int | None = None
    lint_options: Options = field(default_factory=Options)


@dataclass
class ModelOutcome:
    path: str
    reason: str | None  # why it is a model file ("extension", "torch-zip", ...); None: not one
    result: ScanResult | None = None
    skipped: str | None = None  # why a model file was not scanned


@dataclass
class CheckRun:
    lint_files: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    models: list[ModelOutcome] = field(default_factory=list)  # model files only
    candidates: int = 0  # files tested for being models
    total: int = 0  # files planned (lint + candidates)
    done: int = 0  # files finished
    interrupted: bool = False

    @property
    def scanned(self) -> list[ScanResult]:
        return [m.result for m in self.models if m.result is not None]

    @property
    def skipped(self) -> list[ModelOutcome]:
        return [m for m in self.models if m.skipped is not None]


# ------------------------------------------------------------------------ worker side
_setup = WorkerSetup()
_policy: Policy | None = None


def init_worker(setup: WorkerSetup, ignore_sigint: bool) -> None:
    global _setup, _policy
    if ignore_sigint:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    _setup = setup
    _policy = Policy.for_torch(setup.torch_version, setup.allow)


def lint_task(work: list[LintWork]) -> list[FileOutcome]:
    return lint_files(work, _setup.lint_options)


def model_task(candidates: list[Candidate]) -> list[ModelOutcome]:
    out: list[ModelOutcome] = []
    for candidate in candidates:
        outcome = vet_file(candidate.path)
        out.append(outcome)
        for alias in candidate.aliases:
            if _named_alike(alias, candidate.path):
                result = outcome.result and replace(outcome.result, path=alias)
                out.append(replace(outcome, path=alias, result=result))
            else:  # torch.load treats a *.safetensors path differently: judge it by its name
                out.append(vet_file(alias))
    return out


def _named_alike(a: str, b: str) -> bool:
    return a.endswith(".safetensors") == b.endswith(".safetensors")


def vet_file(path: str) -> ModelOutcome:
    """Is ``path`` a model file, and if so, what would loading it do?"""
    try:
        reason = model_reason(path)
    except Exception:
        # A bug in the content test must not hide a file: let the scanner judge it.
        if os.environ.get("TORCHVET_DEBUG"):
            raise
        reason = "unrecognised"
    if reason is None:
        return ModelOutcome(path, None)
    if _setup.max_size is not None:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0  # the scan reports it as unreadable
        if size > _setup.max_size:
            return ModelOutcome(path, reason, skipped=f"{size} bytes, over --max-size")
    return ModelOutcome(path, reason, scan_file(path, policy=_policy))


# ------------------------------------------------------------------------ main side
Task = tuple[Callable[[list], list], list]


class Display(Protocol):
    """Progress feedback; started only once worker processes exist (fork before threads)."""

    def start(self, total: int) -> None: ...

    def advance(self, files: int) -> None: ...

    def stop(self) -> None: ...


def _tasks(plan: CheckPlan, lint_chunk: int, model_chunk: int) -> list[Task]:
    models = plan.candidates
    lint = plan.lint
    tasks: list[Task] = [
        (model_task, models[i : i + model_chunk]) for i in range(0, len(models), model_chunk)
    ]
    tasks += [(lint_task, lint[i : i + lint_chunk]) for i in range(0, len(lint), lint_chunk)]
    return tasks


def run_check(
    plan: CheckPlan, setup: WorkerSetup, jobs: int = 1, display: Display | None = None
) -> CheckRun:
    """Run every task of ``plan`` on ``jobs`` processes (1: in this process)."""
    run = CheckRun(candidates=len(plan.candidates), total=plan.total)
    tasks = _tasks(plan, LINT_CHUNK, MODEL_CHUNK)
    if jobs <= 1 or len(tasks) <= 1:
        # One file per task: Ctrl-C loses at most the file being read.
        outcomes = _serial(_tasks(plan, 1, 1), setup)
    else:
        outcomes = _parallel(tasks, setup, jobs)
    try:
        for started in outcomes:
            if started is None:
                if display is not None:
                    display.start(plan.total)
                continue
            kind, results = started
            _collect(run, kind, results)
            if display is not None:
                display.advance(len(results))
    except KeyboardInterrupt:
        run.interrupted = True
    finally:
        outcomes.close()  # stops the workers if the loop ended early
    run.diagnostics.sort(key=Diagnostic.sort_key)
    run.notes.sort(key=lambda n: (n.path, n.cell or 0, n.line))
    run.models.sort(key=lambda m: m.path)
    return run


def _collect(run: CheckRun, kind: Callable, results: list) -> None:
    run.done += len(results)
    if kind is lint_task:
        run.lint_files += len(results)
        for outcome in results:
            run.diagnostics.extend(outcome.diagnostics)
            run.notes.extend(outcome.notes)
    else:
        run.models.extend(m for m in results if m.reason is not None)


# Each runner yields None once its workers are up, then (task function, results).
Outcomes = Generator[tuple[Callable, list] | None, None, None]


def _serial(tasks: list[Task], setup: WorkerSetup) -> Outcomes:
    init_worker(setup, ignore_sigint=False)
    yield None
    for func, chunk in tasks:
        yield func, func(chunk)


def _parallel(tasks: list[Task], setup: WorkerSetup, workers: int) -> Outcomes:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    # fork where it is safe and fast (workers inherit the imported modules); every
    # worker is forked at the first submit, before any progress thread exists.
    method = "fork" if sys.platform.startswith("linux") else None
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=multiprocessing.get_context(method),
        initializer=init_worker,
        initargs=(setup, True),
    )
    try:
        pending = {pool.submit(func, chunk): (func, chunk) for func, chunk in tasks}
        yield None
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                func, chunk = pending.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # a worker died (killed, out of memory): fail closed
                    results = _failed(func, chunk, exc)
                yield func, results
    except BaseException:  # Ctrl-C, or the consumer stopped early (GeneratorExit)
        _stop_now(pool)
        raise
    pool.shutdown(wait=True)


def _failed(func: Callable, chunk: list, exc: Exception) -> list:
    why = f"torchvet's worker process failed ({type(exc).__name__}: {exc})"
    if func is model_task:
        return [ModelOutcome(c.path, "unchecked", skipped=why) for c in chunk]
    return [FileOutcome(path, notes=[Note(path, 1, why)]) for path, _ in chunk]


def _stop_now(pool) -> None:
    """Cancel queued tasks and end the workers now (they may be deep in a big file)."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
