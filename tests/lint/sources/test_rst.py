"""Python in reStructuredText: doctest and code blocks keep their columns; bad code is a note."""

from __future__ import annotations

from tests.lint.helpers import lint, positions


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
