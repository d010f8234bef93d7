"""Lines and columns as Python's tokenizer counts them: characters, not bytes; CRLF kept."""

from __future__ import annotations

from tests.lint.helpers import lint, positions


def test_non_ascii_columns_are_characters() -> None:
    text = 'import torch\ns = "é"; x = torch.load(p)\n'
    assert positions(lint("a.py", text))[0][3] == 14  # bytes would say 15


def test_crlf_file_fix_keeps_line_endings() -> None:
    text = "import torch\r\nx = torch.load(p),\r\n"
    outcome = lint("a.py", text, fix=True)
    assert outcome.new_text == "import torch\r\nx = torch.load(p)\r\n"
