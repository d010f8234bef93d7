"""Keep benchmarks/RESULTS.md as one file with one section per benchmark script."""

from __future__ import annotations

import re
from pathlib import Path


def replace_section(path: Path, title: str, body: str) -> None:
    """Replace (or append) the ``## {title}`` section of ``path`` with ``body``."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = body.rstrip("\n") + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body, text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
