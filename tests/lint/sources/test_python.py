"""A .py file: code that does not parse is a note; sphinx-gallery prose only in gallery scripts."""

from __future__ import annotations

from tests.lint.helpers import FIXTURES, lint


def test_python_file_that_does_not_parse_is_a_note_not_a_crash() -> None:
    path = FIXTURES / "sources" / "broken.py"
    outcome = lint(str(path), path.read_text())
    assert outcome.diagnostics == []
    assert len(outcome.notes) == 1 and "does not parse" in outcome.notes[0].message


def test_gallery_comments_are_ignored_in_ordinary_scripts() -> None:
    text = "# Example::\n#\n#    torch.load(p)\nx = 1\n"
    assert lint("a.py", text).diagnostics == []
