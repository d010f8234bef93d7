"""Folders the walks skip: one list for ``scan``, ``lint`` and ``check``.

``scan`` never descends into ``TOOL_DIRS`` (version control data and tool caches hold
no model anyone loads). ``lint`` and ``check`` also skip ``ENVIRONMENT_DIRS``
(virtualenvs, installed packages, other tools' folders) unless
``--include-environments`` asks for them.
"""

from __future__ import annotations

TOOL_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".tox", ".mypy_cache", ".ruff_cache"})
ENVIRONMENT_DIRS = frozenset(
    {
        ".nox",
        ".venv",
        "venv",
        ".eggs",
        "node_modules",
        "site-packages",
        "dist-packages",
        ".pytest_cache",
        ".ipynb_checkpoints",
    }
)
DEFAULT_EXCLUDED_DIRS = TOOL_DIRS | ENVIRONMENT_DIRS
