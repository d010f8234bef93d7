"""A ``.py`` file: the file itself, plus the reST of a sphinx-gallery script.

Sphinx-gallery scripts keep their prose (with ``.. code:: python`` examples that
never run) in ``#`` comment blocks and in the module docstring; PyTorch's
tutorials ship that way, which is how a broken ``load_state_dict`` call survived.
Docstrings (the module's included) are read from the parsed tree, by
``sources.docstrings``.
"""

from __future__ import annotations

import re

from torchvet.lint.model import Snippet, SourceLine
from torchvet.lint.sources.rst import extract_rst
from torchvet.lint.text import split_lines

# A separator line marks a sphinx-gallery text block: `# %%` or a row of 20+ `#`.
_GALLERY_SEPARATOR = re.compile(r"^(?:# ?%%|#{20,}\s*$)", re.MULTILINE)


def extract_python(text: str) -> list[Snippet]:
    if text.startswith("\ufeff"):
        lines = split_lines(text[1:])
        origin = [(n, 1 if n == 1 else 0) for n in range(1, len(lines) + 1)]
        snippets = [Snippet("\n".join(lines) + "\n", origin, "python")]
    else:
        snippets = [Snippet(text, None, "python")]
    if _GALLERY_SEPARATOR.search(text):
        snippets.extend(extract_gallery_blocks(split_lines(text)))
    return snippets


def _comment_text(line_no: int, line: str) -> SourceLine:
    if _GALLERY_SEPARATOR.match(line):
        return SourceLine(line_no, len(line), "")
    width = 2 if line.startswith("# ") else 1
    return SourceLine(line_no, width, line[width:])


def extract_gallery_blocks(lines: list[str]) -> list[Snippet]:
    snippets: list[Snippet] = []
    run: list[SourceLine] = []

    def flush() -> None:
        if any("::" in sl.text or ">>>" in sl.text for sl in run):
            for snippet in extract_rst(run):
                snippet.kind = "sphinx-gallery " + snippet.kind
                snippets.append(snippet)
        run.clear()

    for index, line in enumerate(lines):
        if line.startswith("#"):
            run.append(_comment_text(index + 1, line))
        else:
            flush()
    flush()
    return snippets
