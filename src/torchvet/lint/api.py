"""Lint many files: choose rules per file, fan out over processes, gather outcomes.

``run_lint`` is what ``torchvet lint`` runs: files and folders, or code read from stdin.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, islice

from pathspec import GitIgnoreSpec

from torchvet.lint.config import Config, relative_posix, selected
from torchvet.lint.discover import WalkStats, discover
from torchvet.lint.engine import FileOutcome, Options, lint_file_text, lint_path
from torchvet.lint.model import Diagnostic, Note
from torchvet.lint.rules import RULES_BY_CODE, select_rules

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 64
CHUNK = 16


@dataclass
class LintRun:
    files: int = 0
    diagnostics: list[Diagnostic] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    fixed: int = 0
    noqa_added: int = 0
    diffs: list[str] = field(default_factory=list)
    skipped: WalkStats = field(default_factory=WalkStats)
    text: str | None = None  # code read from stdin, after its fixes (None: files were linted)

    def add(self, outcome: FileOutcome) -> None:
        self.diagnostics.extend(outcome.diagnostics)
        self.notes.extend(outcome.notes)
        self.fixed += outcome.fixed
        self.noqa_added += outcome.noqa_added
        if outcome.diff:
            self.diffs.append(outcome.diff)


class UsageError(ValueError):
    """Arguments a lint run cannot start with (the message says which)."""


@dataclass
class Selection:
    select: list[str] | None
    ignore: list[str]
    per_file_ignores: list[tuple[GitIgnoreSpec, tuple[str, ...]]]
    root: str

    @classmethod
    def from_config(cls, config: Config) -> Selection:
        per_file = [
            (GitIgnoreSpec.from_lines([pattern]), tuple(codes))
            for pattern, codes in config.per_file_ignores.items()
        ]
        return cls(selected(config), config.ignore, per_file, str(config.root))

    def codes_for(self, path: str) -> tuple[str, ...]:
        from pathlib import Path

        if not self.per_file_ignores:
            return _codes(tuple(self.select or ()), tuple(self.ignore))
        relative = relative_posix(path, Path(self.root))
        extra = [
            code
            for spec, codes in self.per_file_ignores
            if spec.match_file(relative)
            for code in codes
        ]
        return _codes(tuple(self.select or ()), tuple(self.ignore + extra))


@lru_cache(maxsize=64)
def _codes(select: tuple[str, ...], ignore: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(rule.code for rule in select_rules(list(select) or None, list(ignore)))


# One unit of lint work: a file and the rule codes that apply to it.
LintWork = tuple[str, tuple[str, ...]]


def lint_files(work: Sequence[LintWork], options: Options) -> list[FileOutcome]:
    """Lint each file with its rules, in this process (a worker's job)."""
    return [lint_path(path, [RULES_BY_CODE[c] for c in codes], options) for path, codes in work]


def iter_lint(
    paths: Sequence[str],
    config: Config,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
    stats: WalkStats | None = None,
) -> Iterator[LintWork]:
    """The files under ``paths`` to lint, each with the rule codes that apply to it,
    as the walk finds them."""
    selection = Selection.from_config(config)
    exclude = GitIgnoreSpec.from_lines(config.exclude) if config.exclude else None
    files = discover(
        list(paths), exclude, config.root, respect_gitignore, default_excludes, stats=stats
    )
    return ((path, selection.codes_for(path)) for path in files)


def lint_paths(
    paths: Sequence[str],
    config: Config,
    options: Options,
    jobs: int | None = None,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
) -> LintRun:
    stats = WalkStats()
    work = iter_lint(paths, config, respect_gitignore, default_excludes, stats)
    workers = jobs or os.cpu_count() or 1
    # Small runs stay in this process; larger ones start workers while the walk goes on.
    first = list(islice(work, PARALLEL_THRESHOLD))
    if workers > 1 and len(first) == PARALLEL_THRESHOLD:
        outcomes = _parallel(chain(first, work), options, workers)
    else:
        outcomes = lint_files([*first, *work], options)
    run = LintRun(files=len(outcomes), skipped=stats)
    for outcome in outcomes:
        run.add(outcome)
    run.diagnostics.sort(key=Diagnostic.sort_key)
    return run


def _parallel(work: Iterator[LintWork], options: Options, workers: int) -> list[FileOutcome]:
    """Chunks go to the workers as the walk produces them; outcomes come back in order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    method = "fork" if sys.platform.startswith("linux") else None
    context = multiprocessing.get_context(method)
    outcomes: list[FileOutcome] = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = []
        while chunk := list(islice(work, CHUNK)):
            futures.append(pool.submit(lint_files, chunk, options))
        for future in futures:
            outcomes.extend(future.result())
    return outcomes


def lint_stdin(name: str | None, config: Config, options: Options) -> LintRun:
    """Code read from stdin, as a file called ``name`` (Python when there is none)."""
    text = sys.stdin.read()
    rules = select_rules(selected(config), config.ignore)
    outcome = lint_file_text(name or "-", text, rules, options, None if name else "python")
    run = LintRun(files=1)
    run.add(outcome)
    run.text = outcome.new_text if outcome.new_text is not None else text
    return run


@dataclass(frozen=True)
class LintRequest:
    """What ``torchvet lint`` was asked to lint, and how folders are walked for it."""

    paths: Sequence[str] = (".",)  # ["-"]: code read from stdin
    jobs: int | None = None  # worker processes (None: one per CPU)
    respect_gitignore: bool = True
    default_excludes: bool = True  # skip environments and VCS folders
    stdin_name: str | None = None  # the name (so the file type) of code read from stdin


def run_lint(request: LintRequest, config: Config, options: Options) -> LintRun:
    """``torchvet lint``; UsageError for arguments it cannot run with."""
    if request.jobs is not None and request.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if options.add_noqa and (options.fix or options.diff):
        raise UsageError("--add-noqa cannot be combined with --fix or --diff")
    paths = list(request.paths)
    if paths == ["-"]:
        return lint_stdin(request.stdin_name, config, options)
    missing = [p for p in paths if p != "-" and not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such file or folder: {', '.join(missing)}")
    return lint_paths(
        paths, config, options, request.jobs, request.respect_gitignore, request.default_excludes
    )
