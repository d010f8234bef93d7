"""Python code in reStructuredText: code directives, ``::`` literal blocks, doctest blocks.

Hand-written on purpose: docutils builds a document tree but drops the exact
column of each literal line, and we must point at (and edit) original characters.
The extractor works on ``SourceLine``s so that the same code serves ``.rst`` files
and the reST inside sphinx-gallery ``#`` comment blocks.
"""

from __future__ import annotations

import re

from torchvet.lint.model import Snippet, SourceLine
from torchvet.lint.sources.prompts import looks_interactive, strip_prompts
from torchvet.lint.text import indent_of

PYTHON_LANGUAGES = {"python", "py", "python3", "py3", "pycon", "ipython", "ipython3", "default"}
_DIRECTIVE = re.compile(
    r"^(\s*)\.\.\s+(code-block|code|sourcecode|testcode|doctest|ipython)::\s*(\S*)"
)
# Directives whose body is always Python, whatever follows the ``::``.
_ALWAYS_PYTHON = {"testcode", "doctest", "ipython"}
_OPTION = re.compile(r"^\s*:[\w-]+:")


def _is_option(text: str, directive_indent: int) -> bool:
    return bool(_OPTION.match(text)) and indent_of(text) > directive_indent


def indented_block(
    lines: list[SourceLine], start: int, parent_indent: int
) -> tuple[list[SourceLine], int]:
    """Lines from ``start`` indented deeper than ``parent_indent`` (blank lines included)."""
    end = start
    while end < len(lines):
        text = lines[end].text
        if text.strip() and indent_of(text) <= parent_indent:
            break
        end += 1
    body = lines[start:end]
    while body and not body[-1].text.strip():
        body.pop()
    return body, end


def _dedent(body: list[SourceLine]) -> list[SourceLine]:
    widths = [indent_of(sl.text) for sl in body if sl.text.strip()]
    cut = min(widths, default=0)
    return [SourceLine(sl.line, sl.col + cut, sl.text[cut:]) for sl in body]


def block_snippet(
    body: list[SourceLine], kind: str, declared: bool, unit: int | None
) -> Snippet | None:
    body = _dedent(body)
    if looks_interactive(body):
        body = strip_prompts(body)
        kind += " (doctest)"
    if not any(sl.text.strip() for sl in body):
        return None
    return Snippet.from_lines(body, kind, unit=unit, declared=declared)


def extract_rst(lines: list[SourceLine], unit: int | None = None) -> list[Snippet]:
    snippets: list[Snippet] = []
    i = 0
    while i < len(lines):
        text = lines[i].text
        stripped = text.strip()
        directive = _DIRECTIVE.match(text)
        if directive:
            indent = len(directive.group(1))
            name, language = directive.group(2), directive.group(3).lower()
            j = i + 1
            while (
                j < len(lines)
                and _OPTION.match(lines[j].text)
                and indent_of(lines[j].text) > indent
            ):
                j += 1
            body, end = indented_block(lines, j, indent)
            if name in _ALWAYS_PYTHON or language in PYTHON_LANGUAGES or not language:
                # ``code-block`` without a language uses Sphinx's default (Python).
                declared = name in _ALWAYS_PYTHON or bool(language)
                snippet = block_snippet(body, f"rst {name}", declared, unit)
                if snippet:
                    snippets.append(snippet)
            i = max(end, i + 1)
            continue
        if stripped.startswith(">>>"):
            end = i
            while end < len(lines) and lines[end].text.strip():
                end += 1
            snippet = block_snippet(lines[i:end], "rst doctest", True, unit)
            if snippet:
                snippets.append(snippet)
            i = end
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            indent = indent_of(text)
            j = i + 1
            if j < len(lines) and not lines[j].text.strip():
                body, end = indented_block(lines, j, indent)
                if body:
                    snippet = block_snippet(body, "rst literal block", False, unit)
                    if snippet:
                        snippets.append(snippet)
                i = max(end, i + 1)
                continue
        i += 1
    return snippets
