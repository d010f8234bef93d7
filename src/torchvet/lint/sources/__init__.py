"""Extract Python snippets from every kind of file the linter reads."""

from __future__ import annotations

from pathlib import PurePath

from torchvet.lint.model import Note, Snippet
from torchvet.lint.text import split_lines

PYTHON_SUFFIXES = {".py", ".pyw"}
NOTEBOOK_SUFFIXES = {".ipynb"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
RST_SUFFIXES = {".rst", ".rest"}
SUFFIXES = PYTHON_SUFFIXES | NOTEBOOK_SUFFIXES | MARKDOWN_SUFFIXES | RST_SUFFIXES


def source_kind(path: str) -> str:
    suffix = PurePath(path).suffix.lower()
    if suffix in NOTEBOOK_SUFFIXES:
        return "notebook"
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in RST_SUFFIXES:
        return "rst"
    return "python"


def extract(path: str, text: str, kind: str | None = None) -> tuple[list[Snippet], list[Note]]:
    kind = kind or source_kind(path)
    if kind == "python":
        from torchvet.lint.sources.python import extract_python

        return extract_python(text), []
    if kind == "notebook":
        from torchvet.lint.sources.notebook import extract_notebook

        return extract_notebook(path, text)
    if kind == "markdown":
        from torchvet.lint.sources.markdown import extract_markdown

        return extract_markdown(path, text)
    from torchvet.lint.model import SourceLine
    from torchvet.lint.sources.rst import extract_rst

    lines = [SourceLine(n + 1, 0, line) for n, line in enumerate(split_lines(text))]
    return extract_rst(lines), []


__all__ = ["SUFFIXES", "Note", "Snippet", "extract", "source_kind"]
