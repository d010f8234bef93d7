"""Write a generated data file, or check that the shipped one is current.

Shared by the ``scripts/gen_*.py`` generators: ``--check`` exits 1 when the file on disk
differs from what the generator derives now.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write_or_check(path: Path, text: str, check: bool, source: str, summary: str = "") -> int:
    """Exit status: 0 written or current, 1 stale (``source`` says what it follows)."""
    if check:
        if not path.exists() or path.read_text() != text:
            print(f"{path} is stale; regenerate with {sys.argv[0]}", file=sys.stderr)
            return 1
        print(f"{path} matches {source}")
        return 0
    path.write_text(text)
    print(f"wrote {path}" + (f" ({summary})" if summary else ""))
    return 0
