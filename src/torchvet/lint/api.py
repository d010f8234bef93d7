"""Lint many files: choose rules per file, fan out over processes, gather outcomes."""

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
from torchvet.lint.engine import FileOutcome, Options, lint_path
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


def plan_lint(
    paths: Sequence[str],
    config: Config,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
    stats: WalkStats | None = None,
) -> list[LintWork]:
    """``iter_lint`` as a list."""
    return list(iter_lint(paths, config, respect_gitignore, default_excludes, stats))


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
        run.diagnostics.extend(outcome.diagnostics)
        run.notes.extend(outcome.notes)
        run.fixed += outcome.fixed
        run.noqa_added += outcome.noqa_added
        if outcome.diff:
            run.diffs.append(outcome.diff)
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
