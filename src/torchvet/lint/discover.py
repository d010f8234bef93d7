"""Which files to lint: walk folders, honour ``.gitignore`` and ``exclude``, skip environments."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path

from pathspec import GitIgnoreSpec

from torchvet.lint.sources import SUFFIXES

# Folders never worth linting by default: VCS data, caches, installed packages.
DEFAULT_EXCLUDED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".eggs",
        "__pycache__",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".ipynb_checkpoints",
    }
)


def _is_virtualenv(path: str) -> bool:
    return os.path.exists(os.path.join(path, "pyvenv.cfg"))


def _gitignore(folder: str) -> GitIgnoreSpec | None:
    try:
        with open(os.path.join(folder, ".gitignore"), encoding="utf-8") as handle:
            return GitIgnoreSpec.from_lines(handle)
    except (OSError, UnicodeDecodeError):
        return None


def _parent_ignores(folder: str) -> list[tuple[str, GitIgnoreSpec]]:
    """``.gitignore`` files above ``folder`` up to the repository root, outermost first."""
    found = []
    current = os.path.abspath(folder)
    while True:
        parent = os.path.dirname(current)
        if os.path.isdir(os.path.join(current, ".git")) or parent == current:
            break
        current = parent
        spec = _gitignore(current)
        if spec is not None:
            found.append((current, spec))
    return found[::-1]


def _ignored(path: str, is_dir: bool, specs: list[tuple[str, GitIgnoreSpec]]) -> bool:
    for base, spec in specs:
        relative = os.path.relpath(path, base).replace(os.sep, "/")
        if relative.startswith(".."):
            continue
        if spec.match_file(relative + "/" if is_dir else relative):
            return True
    return False


def discover(
    paths: list[str],
    exclude: GitIgnoreSpec | None = None,
    exclude_root: Path | None = None,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
    suffixes: Collection[str] | None = SUFFIXES,
) -> Iterator[str]:
    """Files to lint, in a stable order.  Files named explicitly are always linted.

    ``suffixes`` (lower case, with the dot) chooses the files found in folders;
    ``None`` yields every file (``torchvet check`` looks for model files by content).
    """

    def excluded(path: str, is_dir: bool) -> bool:
        if exclude is None:
            return False
        base = exclude_root or Path.cwd()
        relative = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
        return exclude.match_file(relative + "/" if is_dir else relative)

    for root in paths:
        if not os.path.isdir(root):
            yield root
            continue
        specs = _parent_ignores(root) if respect_gitignore else []
        yield from _walk(root, specs, excluded, respect_gitignore, default_excludes, suffixes)


def _walk(folder, specs, excluded, respect_gitignore, default_excludes, suffixes) -> Iterator[str]:
    if respect_gitignore:
        own = _gitignore(folder)
        if own is not None:
            specs = [*specs, (folder, own)]
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = entry.path
        if entry.is_dir(follow_symlinks=False):
            if default_excludes and (entry.name in DEFAULT_EXCLUDED_DIRS or _is_virtualenv(path)):
                continue
            if _ignored(path, True, specs) or excluded(path, True):
                continue
            yield from _walk(path, specs, excluded, respect_gitignore, default_excludes, suffixes)
        elif (
            entry.is_file()
            and (suffixes is None or os.path.splitext(entry.name)[1].lower() in suffixes)
            and not _ignored(path, False, specs)
            and not excluded(path, False)
        ):
            yield os.path.normpath(path)
