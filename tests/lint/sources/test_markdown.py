"""Python fences in Markdown: found by CommonMark's rules, positions kept."""

from __future__ import annotations

from tests.lint.helpers import lint, positions


def test_markdown_nested_fence_columns() -> None:
    text = "- item\n\n  ```python\n  x = torch.load(p)\n  ```\n"
    assert positions(lint("a.md", text)) == [("TV002", None, 4, 7, 4, 20)]


def test_markdown_ignores_other_languages_and_unfenced_code() -> None:
    text = "```bash\ntorch.load(p)\n```\n\n    torch.load(p)\n"
    assert lint("a.md", text).diagnostics == []
