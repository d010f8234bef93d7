"""Which files to lint: walk folders, honour ``.gitignore`` and ``exclude``, skip environments.

``.gitignore`` is applied as git applies it: to untracked files only. A file that git
tracks is linted even where an ignore pattern matches it (``git ls-files`` is asked,
once per repository, and only when some pattern did match). A path named on the
command line is always linted, even when an ignore pattern above it matches it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pathspec import GitIgnoreSpec

from torchvet.lint.sources import SUFFIXES
from torchvet.skipdirs import DEFAULT_EXCLUDED_DIRS

Specs = list[tuple[str, "_Ignore"]]


@dataclass
class WalkStats:
    """What a walk left out, so that a run that lints nothing can say why."""

    gitignored: int = 0  # files and folders matched by .gitignore (and not tracked)
    excluded: int = 0  # matched by the configured `exclude`
    environments: int = 0  # VCS folders, virtualenvs, caches, site-packages
    other_suffix: int = 0  # files of a kind the linter does not read
    examples: list[str] = field(default_factory=list)

    def skip(self, reason: str, path: str) -> None:
        setattr(self, reason, getattr(self, reason) + 1)
        if len(self.examples) < 3 and reason != "other_suffix":
            self.examples.append(path)


@dataclass(frozen=True)
class _Repository:
    """The git work tree a walk is in, and what git tracks there (asked lazily)."""

    root: str | None

    def tracked(self, path: str, is_dir: bool) -> bool:
        if self.root is None:
            return False
        files, folders = _tracked_paths(self.root)
        return os.path.abspath(path) in (folders if is_dir else files)


@lru_cache(maxsize=8)
def _tracked_paths(root: str) -> tuple[frozenset[str], frozenset[str]]:
    """Absolute paths of the files git tracks under ``root``, and of their folders."""
    git = shutil.which("git")
    if git is None:
        return frozenset(), frozenset()
    try:
        done = subprocess.run(
            [git, "-c", "core.fsmonitor=false", "-C", root, "ls-files", "-z", "--cached"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return frozenset(), frozenset()
    if done.returncode != 0:
        return frozenset(), frozenset()
    files = {
        os.path.join(root, name)
        for name in done.stdout.decode("utf-8", "surrogateescape").split("\0")
        if name
    }
    folders = set()
    for name in files:
        parent = os.path.dirname(name)
        while parent not in folders and len(parent) > len(root):
            folders.add(parent)
            parent = os.path.dirname(parent)
    return frozenset(files), frozenset(folders)


def _is_virtualenv(path: str) -> bool:
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))


@dataclass(frozen=True)
class _Ignore:
    """One ``.gitignore``: all its patterns for folders; for files, only those that can
    match a file whose folders were not ignored (a ``dir/`` pattern cannot: the walk
    never entered such a folder). Fewer patterns per file is most of the matching cost."""

    folders: GitIgnoreSpec
    files: GitIgnoreSpec

    def match(self, relative: str, is_dir: bool) -> bool:
        return (self.folders if is_dir else self.files).match_file(relative)


def _gitignore(folder: str) -> _Ignore | None:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for_files = [line for line in lines if not line.rstrip().endswith("/")]
    return _Ignore(GitIgnoreSpec.from_lines(lines), GitIgnoreSpec.from_lines(for_files))


def _parent_ignores(folder: str) -> tuple[Specs, str | None]:
    """``.gitignore`` files above ``folder`` up to the repository root (outermost first),
    and that root (``None`` outside a git work tree)."""
    found = []
    current = os.path.abspath(folder)
    repository = None
    while True:
        if os.path.exists(os.path.join(current, ".git")):  # a folder, or a worktree's file
            repository = current
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
        spec = _gitignore(current)
        if spec is not None:
            found.append((current, spec))
    return found[::-1], repository


def _not_ignoring(specs: Specs, root: str) -> Specs:
    """Drop the patterns that ignore a named folder itself (or a folder above it)."""
    kept = []
    for base, spec in specs:
        parts = os.path.relpath(os.path.abspath(root), base).replace(os.sep, "/").split("/")
        prefixes = ["/".join(parts[: n + 1]) + "/" for n in range(len(parts))]
        if not any(spec.match(prefix, True) for prefix in prefixes):
            kept.append((base, spec))
    return kept


def _ignored(path: str, is_dir: bool, specs: Specs) -> bool:
    for base, spec in specs:
        relative = os.path.relpath(path, base).replace(os.sep, "/")
        if relative.startswith(".."):
            continue
        if spec.match(relative + "/" if is_dir else relative, is_dir):
            return True
    return False


@dataclass
class _Walk:
    excluded: Callable[[str, bool], bool]
    respect_gitignore: bool
    default_excludes: bool
    suffixes: Collection[str] | None
    stats: WalkStats
    repository: _Repository = _Repository(None)

    def skipped(self, path: str, is_dir: bool, specs: Specs, only_tracked: bool) -> str | None:
        """Why ``path`` is left out (a ``WalkStats`` field), or ``None``."""
        if self.excluded(path, is_dir):
            return "excluded"
        ignored = only_tracked or _ignored(path, is_dir, specs)
        if ignored and not self.repository.tracked(path, is_dir):
            return "gitignored"
        return None

    def folder(self, folder: str, specs: Specs, only_tracked: bool = False) -> Iterator[str]:
        if self.respect_gitignore:
            own = _gitignore(folder)
            if own is not None:
                specs = [*specs, (folder, own)]
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            yield from self.entry(entry, specs, only_tracked)

    def entry(self, entry: os.DirEntry, specs: Specs, only_tracked: bool) -> Iterator[str]:
        path = entry.path
        is_dir = entry.is_dir(follow_symlinks=False)
        if not is_dir and not entry.is_file():
            return
        reason = self._why_skipped(entry, is_dir, specs, only_tracked)
        if reason is not None:
            self.stats.skip(reason, path)
        elif is_dir:
            inside_ignored = only_tracked or _ignored(path, True, specs)
            yield from self.folder(path, specs, inside_ignored)
        else:
            yield os.path.normpath(path)

    def _why_skipped(
        self, entry: os.DirEntry, is_dir: bool, specs: Specs, only_tracked: bool
    ) -> str | None:
        """The WalkStats field an entry is skipped under, or None if it is walked."""
        if is_dir:
            if self.default_excludes and _is_environment(entry):
                return "environments"
        elif self.suffixes is not None and _suffix(entry.name) not in self.suffixes:
            return "other_suffix"
        return self.skipped(entry.path, is_dir, specs, only_tracked)


def _is_environment(entry: os.DirEntry) -> bool:
    return entry.name in DEFAULT_EXCLUDED_DIRS or _is_virtualenv(entry.path)


def _suffix(name: str) -> str:
    return os.path.splitext(name)[1].lower()


def discover(
    paths: list[str],
    exclude: GitIgnoreSpec | None = None,
    exclude_root: Path | None = None,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
    suffixes: Collection[str] | None = SUFFIXES,
    stats: WalkStats | None = None,
) -> Iterator[str]:
    """Files to lint, in a stable order.  Paths named explicitly are always linted.

    ``suffixes`` (lower case, with the dot) chooses the files found in folders;
    ``None`` yields every file (``torchvet check`` looks for model files by content).
    """
    base = str(exclude_root or Path.cwd())

    def excluded(path: str, is_dir: bool) -> bool:
        if exclude is None:
            return False
        relative = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
        return exclude.match_file(relative + "/" if is_dir else relative)

    stats = stats if stats is not None else WalkStats()
    for root in paths:
        if not os.path.isdir(root):
            yield root
            continue
        walk = _Walk(excluded, respect_gitignore, default_excludes, suffixes, stats)
        if respect_gitignore:
            specs, repository = _parent_ignores(root)
            walk.repository = _Repository(repository)
            specs = _not_ignoring(specs, root)
        else:
            specs = []
        yield from walk.folder(root, specs)
