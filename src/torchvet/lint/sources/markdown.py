"""Python fences in Markdown, found with markdown-it-py (CommonMark), mapped back by column."""

from __future__ import annotations

import re
from functools import lru_cache

from torchvet.lint.model import Note, Snippet, SourceLine
from torchvet.lint.sources.prompts import looks_interactive, strip_prompts
from torchvet.lint.sources.rst import PYTHON_LANGUAGES
from torchvet.lint.text import split_lines

# Any line holding a fence marker, and what follows it (the info string, if an opener).
_FENCE_MARKER = re.compile(r"(?:`{3,}|~{3,})([^\n`]*)")


@lru_cache(maxsize=1)
def _parser():
    from markdown_it import MarkdownIt

    # Fences are block structure: inline parsing (links, emphasis) is never needed.
    return MarkdownIt("commonmark").disable("inline")


def may_hold_python_fence(text: str) -> bool:
    """Cheap over-approximation: some fence marker is followed by a Python language."""
    return any(
        fence_language(match.group(1)) in PYTHON_LANGUAGES for match in _FENCE_MARKER.finditer(text)
    )


def fence_language(info: str) -> str:
    words = info.replace("{", " ").replace("}", " ").split()
    # MyST notebooks: ```{code-cell} ipython3
    if words and words[0] == "code-cell":
        words = words[1:]
    return words[0].lower() if words else ""


def extract_markdown(path: str, text: str) -> tuple[list[Snippet], list[Note]]:
    if not may_hold_python_fence(text):
        return [], []
    original = split_lines(text)
    snippets: list[Snippet] = []
    notes: list[Note] = []
    for token in _parser().parse(text):
        if token.type != "fence" or token.map is None:
            continue
        if fence_language(token.info) not in PYTHON_LANGUAGES:
            continue
        first = token.map[0] + 1  # 0-based index of the first content line
        body: list[SourceLine] = []
        for k, content in enumerate(token.content.split("\n")[:-1]):
            line_text = original[first + k] if first + k < len(original) else ""
            # Container prefixes (indent, "> ") are whatever precedes the content.
            if not line_text.endswith(content):
                notes.append(Note(path, first + 1, "code block with tabs or odd nesting skipped"))
                body = []
                break
            body.append(SourceLine(first + k + 1, len(line_text) - len(content), content))
        if not body:
            continue
        kind = "markdown fence"
        if looks_interactive(body):
            body = strip_prompts(body)
            kind += " (doctest)"
        snippets.append(Snippet.from_lines(body, kind))
    return snippets, notes
