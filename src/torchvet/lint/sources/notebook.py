"""Code cells of a Jupyter notebook; each cell is its own editable unit."""

from __future__ import annotations

import json

from torchvet.lint.model import Note, Snippet, SourceLine
from torchvet.lint.sources.magics import PYTHON_CELL_MAGICS, cell_magic
from torchvet.lint.text import split_lines


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def is_python_notebook(notebook: dict) -> bool:
    metadata = notebook.get("metadata") or {}
    language = (metadata.get("kernelspec") or {}).get("language") or (
        metadata.get("language_info") or {}
    ).get("name")
    return language in (None, "python", "Python", "python3")


def extract_notebook(path: str, text: str) -> tuple[list[Snippet], list[Note]]:
    try:
        notebook = json.loads(text)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError):
        return [], [Note(path, 1, "not a readable notebook (invalid JSON or no cells); skipped")]
    if not isinstance(cells, list) or not is_python_notebook(notebook):
        return [], [Note(path, 1, "not a Python notebook; skipped")]
    snippets: list[Snippet] = []
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        lines = split_lines(cell_source(cell))
        if not lines:
            continue
        magic = cell_magic(lines[0])
        if magic is not None:
            if magic not in PYTHON_CELL_MAGICS:
                continue  # %%bash, %%writefile, ...: not Python
            lines[0] = ""
        body = [SourceLine(n + 1, 0, line) for n, line in enumerate(lines)]
        snippets.append(Snippet.from_lines(body, "notebook cell", unit=index))
    return snippets, []
