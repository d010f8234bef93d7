"""TV001 on the exact line PyTorch's tutorial shipped, everywhere it can hide."""

from __future__ import annotations

import ast

from torchvet.lint.engine import Options, lint_file_text
from torchvet.lint.rules import RULES

BUG = "model.load_state_dict(torch.load(PATH), weights_only=True)"
FIXED = "model.load_state_dict(torch.load(PATH, weights_only=True))"


def lint(text: str, path: str = "t.py", **options):
    return lint_file_text(path, text, list(RULES), Options(**options))


def test_plain_code_is_reported_once_at_the_keyword() -> None:
    outcome = lint(f"import torch\n{BUG}\n")
    assert [(d.code, d.line, d.column) for d in outcome.diagnostics] == [("TV001", 2, 41)]
    assert outcome.diagnostics[0].fix is not None and outcome.diagnostics[0].fix.safe


def test_safe_fix_moves_the_keyword_into_torch_load() -> None:
    outcome = lint(f"import torch\n{BUG}\n", fix=True)
    assert outcome.new_text == f"import torch\n{FIXED}\n"
    assert outcome.diagnostics == []
    ast.parse(outcome.new_text)


def test_sphinx_gallery_code_directive_in_comments() -> None:
    text = (
        '"""\nTutorial\n========\n"""\nimport torch\n\n'
        + "#" * 70
        + "\n# **Load:**\n#\n# .. code:: python\n#\n#    model = TheModelClass(*args, **kwargs)\n"
        + f"#    {BUG}\n#    model.eval()\n#\n"
    )
    outcome = lint(text, fix=True)
    assert outcome.new_text is not None
    assert f"#    {FIXED}\n" in outcome.new_text
    before = lint(text)
    assert [(d.code, d.line, d.column) for d in before.diagnostics] == [("TV001", 13, 46)]


def test_not_reported_for_a_file_defined_method_with_that_parameter() -> None:
    text = (
        "import torch\n"
        "class Helper:\n"
        "    def load_state_dict(self, state_dict, strict=True, weights_only=False):\n"
        "        pass\n"
        "h = Helper()\n"
        "h.load_state_dict(torch.load(p, weights_only=True), weights_only=True)\n"
    )
    assert [d.code for d in lint(text).diagnostics] == []


def test_not_reported_for_opaque_kwargs_but_for_a_visible_dict() -> None:
    assert lint("model.load_state_dict(sd, **kwargs)\n").diagnostics == []
    found = lint('model.load_state_dict(sd, **{"weights_only": True})\n').diagnostics
    assert [d.code for d in found] == ["TV001"]
    assert found[0].fix is None


def test_torchfix_style_double_keyword_is_cleaned_up() -> None:
    text = "import torch\nm.load_state_dict(torch.load(P, weights_only=True), weights_only=True)\n"
    outcome = lint(text, fix=True)
    assert outcome.new_text == "import torch\nm.load_state_dict(torch.load(P, weights_only=True))\n"


def test_second_fix_changes_nothing() -> None:
    first = lint(f"import torch\n{BUG}\n", fix=True, unsafe_fixes=True)
    assert first.new_text is not None
    second = lint(first.new_text, fix=True, unsafe_fixes=True)
    assert second.new_text is None
