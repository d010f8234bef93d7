"""Linting one file: any input text, of any source kind, yields findings and notes, never an
exception; a fix that would break the code is not applied."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES

# Fragments that reach the extractors, the parser and the rules, mixed with noise.
FRAGMENTS = st.sampled_from(
    [
        "torch.load(p)",
        "m.load_state_dict(torch.load(p), weights_only=True)",
        "x = torch.load(p),",
        "```python\n",
        "```\n",
        ".. code-block:: python\n\n",
        "::\n\n",
        ">>> ",
        "... ",
        "# %%\n",
        "#" * 20 + "\n",
        '"""',
        "    ",
        "\t",
        "\n",
        "\r\n",
        "\ufeff",
        "é",
        "(",
        "%matplotlib inline\n",
        '{"cells": [',
        '{"cell_type": "code", "source": ["torch.load(p)"]}',
        "]}",
        "import pickle as p; p.loads(b)",
    ]
)
TEXTS = st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, suffix=st.sampled_from([".py", ".md", ".rst", ".ipynb"]), fix=st.booleans())
def test_never_raises(text: str, suffix: str, fix: bool) -> None:
    outcome = lint_file_text("f" + suffix, text, list(RULES), Options(diff=fix, unsafe_fixes=fix))
    for diagnostic in outcome.diagnostics:
        assert diagnostic.line >= 1 and diagnostic.column >= 1


def test_fix_is_not_applied_when_it_would_break_the_code(monkeypatch) -> None:
    from torchvet.lint import engine

    text = "import torch\nx = torch.load(p),\n"
    monkeypatch.setattr(
        engine, "compile_failures", lambda path, text, kind: 0 if "p)," in text else 1
    )
    outcome = lint_file_text("a.py", text, list(RULES), Options(fix=True))
    assert outcome.new_text is None
    assert any("would break" in n.message for n in outcome.notes)
