"""The checker: each call reaches the rules its resolved name or its keywords concern
(keywords hidden in a ``**dict`` too, while the dict is only read), snippets of one
document share a namespace, positions map back to the file, bad code becomes a note."""

from __future__ import annotations

from torchvet.lint.checker import Context
from torchvet.lint.model import Snippet
from torchvet.lint.rules import RULES


def check(*snippets: Snippet) -> tuple[list[tuple], list[tuple], int]:
    ctx = Context("f.py", [rule() for rule in RULES])
    notes, failures = ctx.run(list(snippets))
    found = [(d.code, d.cell, d.line, d.column) for d in ctx.diagnostics]
    return found, [(n.line, n.message, n.cell) for n in notes], failures


def python(code: str) -> Snippet:
    return Snippet(code, None, "python")


def test_a_call_reaches_the_rules_by_its_resolved_name() -> None:
    assert check(python("from torch import load as read\nread(p)\n"))[0] == [("TV002", None, 2, 1)]
    assert check(python("from mylib import load\nload(p)\n"))[0] == []


def test_keywords_in_a_dict_that_is_only_read_reach_the_keyword_rules() -> None:
    code = "import torch\nkw = {'weights_only': False}\ntorch.load(p, **kw)\n"
    assert check(python(code))[0] == [("TV003", None, 3, 15)]  # at the `**kw`


def test_a_dict_changed_or_passed_on_is_opaque() -> None:
    # weights_only may be in it by the time of the call: neither rule can say.
    for use in ("kw.update(other)\n", "configure(kw)\n"):
        code = f"import torch\nkw = {{'weights_only': False}}\n{use}torch.load(p, **kw)\n"
        assert check(python(code))[0] == [], use


def test_notebook_cells_share_imports_and_magics_do_not_stop_parsing() -> None:
    first = Snippet("import torch as T\n", None, "notebook cell", unit=0)
    second = Snippet("!pip install x\nT.load(p)\n", None, "notebook cell", unit=1)
    assert check(first, second) == ([("TV002", 2, 2, 1)], [], 0)
    # In a .py file a magic is a syntax error, said once.
    found, notes, failures = check(python("!pip install x\nimport torch\ntorch.load(p)\n"))
    assert (found, failures) == ([], 1)
    assert notes == [(1, "python does not parse (invalid syntax); skipped", None)]


def test_positions_point_into_the_original_file() -> None:
    # A fence indented by four columns, starting on line 5 of its file.
    fence = Snippet("import torch\nx = torch.load(p)\n", [(5, 4), (6, 4)], "markdown fence")
    assert check(fence)[0] == [("TV002", None, 6, 9)]


def test_a_block_that_does_not_parse_is_a_note_only_if_declared_python() -> None:
    declared = Snippet("torch.load(\n", [(10, 4)], "markdown fence", declared=True)
    found, notes, failures = check(declared)
    assert (found, failures) == ([], 1)
    assert notes == [(10, "markdown fence does not parse ('(' was never closed); skipped", None)]
    undeclared = Snippet("torch.load(\n", [(10, 4)], "rst literal", declared=False)
    assert check(undeclared) == ([], [], 1)
