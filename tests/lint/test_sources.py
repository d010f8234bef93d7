"""Extraction from each kind of source keeps original positions; bad code is a note."""

from __future__ import annotations

import json

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES

from .helpers import FIXTURES


def lint(path: str, text: str, **options):
    return lint_file_text(path, text, list(RULES), Options(**options))


def positions(outcome):
    return [
        (d.code, d.cell, d.line, d.column, d.end_line, d.end_column) for d in outcome.diagnostics
    ]


def test_markdown_nested_fence_columns() -> None:
    text = "- item\n\n  ```python\n  x = torch.load(p)\n  ```\n"
    assert positions(lint("a.md", text)) == [("TV002", None, 4, 7, 4, 20)]


def test_markdown_ignores_other_languages_and_unfenced_code() -> None:
    text = "```bash\ntorch.load(p)\n```\n\n    torch.load(p)\n"
    assert lint("a.md", text).diagnostics == []


def test_rst_doctest_columns_skip_the_prompt() -> None:
    text = "Example:\n\n>>> import torch\n>>> x = torch.load(p)\ntensor(1)\n"
    assert positions(lint("a.rst", text)) == [("TV002", None, 4, 9, 4, 22)]


def test_rst_literal_block_that_is_not_python_is_skipped_quietly() -> None:
    outcome = lint("a.rst", "Run::\n\n    $ make it (\n")
    assert outcome.diagnostics == [] and outcome.notes == []


def test_rst_declared_block_that_does_not_parse_is_a_note() -> None:
    text = ".. code-block:: python\n\n   torch.load(\n"
    outcome = lint("a.rst", text)
    assert outcome.diagnostics == []
    assert [n.line for n in outcome.notes] == [3]


def test_python_file_that_does_not_parse_is_a_note_not_a_crash() -> None:
    path = FIXTURES / "sources" / "broken.py"
    outcome = lint(str(path), path.read_text())
    assert outcome.diagnostics == []
    assert len(outcome.notes) == 1 and "does not parse" in outcome.notes[0].message


def test_notebook_findings_name_the_cell_and_share_imports() -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "outputs": [], "source": ["import torch as T"]},
            {"cell_type": "markdown", "metadata": {}, "source": ["T.load(p)"]},
            {
                "cell_type": "code",
                "metadata": {},
                "outputs": [],
                "source": ["!pip install x\n", "y = T.load(p)"],
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    outcome = lint("n.ipynb", json.dumps(nb))
    assert positions(outcome) == [("TV002", 3, 2, 5, 2, 14)]


def test_unreadable_notebook_is_a_note() -> None:
    outcome = lint("n.ipynb", "{not json torch.load(p)")
    assert outcome.diagnostics == [] and len(outcome.notes) == 1


def test_gallery_comments_are_ignored_in_ordinary_scripts() -> None:
    text = "# Example::\n#\n#    torch.load(p)\nx = 1\n"
    assert lint("a.py", text).diagnostics == []


def test_non_ascii_columns_are_characters() -> None:
    text = 'import torch\ns = "é"; x = torch.load(p)\n'
    assert positions(lint("a.py", text))[0][3] == 14  # bytes would say 15


def test_crlf_file_fix_keeps_line_endings() -> None:
    text = "import torch\r\nx = torch.load(p),\r\n"
    outcome = lint("a.py", text, fix=True)
    assert outcome.new_text == "import torch\r\nx = torch.load(p)\r\n"


DOCSTRINGS = '''\
"""Module.

>>> from torch import load as read
"""
import torch


def read(path):
    """Read a checkpoint.

    >>> read("m.pt")
    >>> state = torch.load("m.pt")
    """
    return torch.load(path, weights_only=True)


read("m.pt")
EXAMPLE = r"""
```python
model.load_state_dict(torch.load(p), mmap=True)
```
"""
'''


def test_docstring_examples_have_their_own_namespace_and_original_positions() -> None:
    found = positions(lint("m.py", DOCSTRINGS))
    # `read` in the function's docstring is the module's own function, not the
    # `torch.load` alias imported in the module docstring's example.
    assert found == [
        ("TV002", None, 12, 17, 12, 35),
        ("TV002", None, 20, 23, 20, 36),
        ("TV001", None, 20, 38, 20, 47),
    ]


def test_strings_that_are_not_documentation_are_not_read() -> None:
    code = 'import torch\nf(""">>> torch.load(p)""")\nx = b""">>> torch.load(p)"""\n'
    assert positions(lint("m.py", code)) == []
