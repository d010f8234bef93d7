"""Code examples inside a ``.py`` file's string literals: docstrings and doc constants.

Docstrings (of the module, classes and functions) and strings assigned at module
level (diffusers' ``EXAMPLE_DOC_STRING``) carry tutorial code: ``>>>`` doctest
lines, Markdown fences, reST code blocks. It is linted where it stands: positions
point into the raw source text of the literal, so fixes edit the file itself.

Found from the tree the file was already parsed into (no second parse), walking
statements only.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from torchvet.lint.model import Snippet, SourceLine
from torchvet.lint.sources.prompts import looks_interactive, strip_prompts
from torchvet.lint.sources.rst import (
    PYTHON_LANGUAGES,
    block_snippet,
    extract_rst,
    indented_block,
)
from torchvet.lint.text import char_col, indent_of

# A string worth reading holds an example marker and a word some rule needs.
_MARKERS = (">>>", "```", "~~~", "::", "Example", "Usage")
_OPENER = re.compile(r"([rRuU]?)(\"\"\"|'''|\"|')")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*\{?([\w+-]*)")
_BODIES = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
_EXAMPLE_HEADING = re.compile(r"^\s*(?:Examples?|Example usage|Usage)\s*:\s*$")


def _doc_strings(tree: ast.Module) -> Iterator[ast.Constant]:
    """Docstrings of every body, and strings assigned at module level."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        body = getattr(node, "body", None)
        if not isinstance(body, list):
            continue
        if isinstance(node, _BODIES) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                yield first.value
        for statement in body:
            if isinstance(node, ast.Module) and isinstance(statement, ast.Assign):
                if isinstance(statement.value, ast.Constant):
                    yield statement.value
            elif hasattr(statement, "body"):  # compound statements may hold definitions
                stack.append(statement)
                stack.extend(getattr(statement, "orelse", ()))
                stack.extend(getattr(statement, "finalbody", ()))
                stack.extend(getattr(statement, "handlers", ()))


def docstring_groups(tree: ast.Module, lines: list[str], hot_words: tuple[str, ...]):
    """One list of snippets per string literal with code examples a rule may care about.

    Positions are in the coordinates of ``lines`` (the code the tree was parsed from).
    """
    for node in _doc_strings(tree):
        value = node.value
        if not isinstance(value, str) or not any(m in value for m in _MARKERS):
            continue
        if not any(word in value for word in hot_words):
            continue
        body = _raw_lines(node, lines)
        if body:
            snippets = extract_examples(body)
            for snippet in snippets:
                snippet.kind = "docstring " + snippet.kind
            if snippets:
                yield snippets


def _raw_lines(node: ast.Constant, lines: list[str]) -> list[SourceLine] | None:
    """The literal's text as written, line by line, without prefix and quotes."""
    first, last = node.lineno, node.end_lineno or node.lineno
    if last > len(lines):
        return None
    start = char_col(lines[first - 1], node.col_offset)
    end = char_col(lines[last - 1], node.end_col_offset or 0)
    opener = _OPENER.match(lines[first - 1], start)
    if opener is None:
        return None  # bytes, f-strings: not documentation
    quote = opener.group(2)
    if first == last:
        text = lines[first - 1][opener.end() : end - len(quote)]
        raw = [SourceLine(first, opener.end(), text)]
    else:
        raw = [SourceLine(first, opener.end(), lines[first - 1][opener.end() :])]
        raw += [SourceLine(n, 0, lines[n - 1]) for n in range(first + 1, last)]
        raw.append(SourceLine(last, 0, lines[last - 1][: end - len(quote)]))
    if any(quote in sl.text for sl in raw):
        return None  # implicitly concatenated literals: not one text
    return raw


def extract_examples(lines: list[SourceLine]) -> list[Snippet]:
    """Fenced code, then reST blocks and ``>>>`` examples in what is left, then the
    indented block under a Google-style ``Example:`` heading."""
    snippets: list[Snippet] = []
    rest = list(lines)
    i = 0
    while i < len(lines):
        opener = _FENCE.match(lines[i].text)
        if opener is None:
            i += 1
            continue
        marker, language = opener.groups()
        end = i + 1
        while end < len(lines) and not lines[end].text.strip().startswith(marker):
            end += 1
        body = lines[i + 1 : end]
        for k in range(i, min(end + 1, len(lines))):
            rest[k] = SourceLine(lines[k].line, lines[k].col, "")
        language = language.lower()
        if language in PYTHON_LANGUAGES or not language:
            snippet = _fenced(body, language)
            if snippet is not None:
                snippets.append(snippet)
        i = end + 1
    snippets.extend(extract_rst(rest))
    snippets.extend(_under_example_headings(rest))
    return snippets


def _under_example_headings(lines: list[SourceLine]) -> Iterator[Snippet]:
    """``Example:`` (Google style, no ``::``) then an indented block that is not ``>>>``
    (reST reads those); undeclared, so prose that does not parse is skipped quietly."""
    for index, line in enumerate(lines):
        if not _EXAMPLE_HEADING.match(line.text):
            continue
        body, _ = indented_block(lines, index + 1, indent_of(line.text))
        first = next((sl.text.strip() for sl in body if sl.text.strip()), "")
        if first and not first.startswith((">>>", "```", "~~~", "..")):
            snippet = block_snippet(body, "example block", declared=False, unit=None)
            if snippet is not None:
                yield snippet


def _fenced(body: list[SourceLine], language: str) -> Snippet | None:
    widths = [len(sl.text) - len(sl.text.lstrip()) for sl in body if sl.text.strip()]
    if not widths:
        return None
    cut = min(widths)
    body = [SourceLine(sl.line, sl.col + cut, sl.text[cut:]) for sl in body]
    kind = "fence"
    if looks_interactive(body):
        body, kind = strip_prompts(body), "fence (doctest)"
    return Snippet.from_lines(body, kind, declared=bool(language) or kind != "fence")
