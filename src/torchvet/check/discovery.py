"""What ``torchvet check`` looks at: the files to lint and the files that may be models.

Both walks skip VCS folders, virtualenvs, ``site-packages``, ``node_modules`` and caches
(``--include-environments`` walks them) and honour ``exclude``. They differ on
``.gitignore``: linting respects it (ignored code is usually generated or vendored),
the model search does not by default, because checkpoints are exactly what projects
gitignore (``*.pt``, ``checkpoints/``) and a checkpoint on disk is loaded all the same.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

from pathspec import GitIgnoreSpec

from torchvet.check.settings import CheckSettings
from torchvet.hfcache import is_blob
from torchvet.lint.api import LintWork, iter_lint
from torchvet.lint.config import Config
from torchvet.lint.discover import discover
from torchvet.lint.sources import SUFFIXES as LINT_SUFFIXES


@dataclass(frozen=True)
class Candidate:
    """A file that may be a model, under every path that leads to it (links)."""

    path: str
    aliases: tuple[str, ...] = ()


@dataclass
class CheckPlan:
    lint: list[LintWork] = field(default_factory=list)
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Files to report on: linted ones, and candidates under each of their paths."""
        return len(self.lint) + sum(1 + len(c.aliases) for c in self.candidates)


def is_lint_source(path: str) -> bool:
    return PurePath(path).suffix.lower() in LINT_SUFFIXES


def plan_check(
    paths: Sequence[str],
    config: Config,
    settings: CheckSettings,
    respect_gitignore: bool = True,
    default_excludes: bool = True,
) -> CheckPlan:
    folders = [p for p in paths if os.path.isdir(p)]
    files = [os.path.normpath(p) for p in paths if not os.path.isdir(p)]
    lint_roots = folders + [f for f in files if is_lint_source(f)]
    plan = CheckPlan(lint=list(iter_lint(lint_roots, config, respect_gitignore, default_excludes)))
    patterns = config.exclude + settings.exclude_models
    exclude = GitIgnoreSpec.from_lines(patterns) if patterns else None
    found = discover(
        folders,
        exclude,
        config.root,
        respect_gitignore=settings.models_respect_gitignore,
        default_excludes=default_excludes,
        suffixes=None,
    )
    others = [f for f in files if not is_lint_source(f)]
    plan.candidates = _by_file([*others, *(f for f in found if not is_lint_source(f))])
    return plan


def _by_file(paths: list[str]) -> list[Candidate]:
    """One candidate per file on disk: symlinks and hard links to it become aliases.

    A Hugging Face cache keeps each file's bytes in ``blobs/<sha>`` and links to it from
    ``snapshots/<rev>/<name>``: the name decides what a loader does, so such a blob is
    reported under its snapshot names only."""
    groups: dict[object, list[str]] = {}
    for path in dict.fromkeys(paths):  # also drops a path named twice
        try:
            st = os.stat(path)
            key: object = (st.st_dev, st.st_ino)
        except OSError:
            key = path  # unreadable: scanned on its own, and reported as such
        groups.setdefault(key, []).append(path)
    candidates = []
    for group in groups.values():
        named = [p for p in group if not is_blob(p)] or group
        candidates.append(Candidate(named[0], tuple(named[1:])))
    return candidates
