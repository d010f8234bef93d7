from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.astutil import end_of
from torchvet.lint.rules.base import TORCH_LOAD, Rule, terminals_of

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

LOADERS = TORCH_LOAD | {"torch.hub.load_state_dict_from_url"}


class LoadTrailingComma(Rule):
    """
    ## What it does
    Finds `x = torch.load(...),`: a trailing comma that makes `x` a one-element tuple.

    ## Why is this bad?
    The comma is easy to miss and turns the loaded state dict into
    `(state_dict,)`; the next line fails far from the cause (`'tuple' object has no
    attribute 'keys'`, or `load_state_dict` complaining about the type). A later
    revision of PyTorch's own tutorial carried this typo.

    ## Example
    ```python
    state_dict = torch.load(PATH, weights_only=True),
    ```

    ## Use instead
    ```python
    state_dict = torch.load(PATH, weights_only=True)
    ```

    ## Fix availability and safety
    Always available, and safe: the comma is removed.
    """

    code = "TV009"
    name = "load-trailing-comma"
    summary = "trailing comma turns a loaded checkpoint into a 1-tuple"
    level = "error"
    node_types = (ast.Assign, ast.AnnAssign)
    hot_words = terminals_of(LOADERS)
    fix_availability = "always"
    fix_safety = "safe"

    def check(self, node: ast.AST, ctx: Context) -> None:
        value = getattr(node, "value", None)
        if not isinstance(value, ast.Tuple) or len(value.elts) != 1:
            return
        element = value.elts[0]
        if not isinstance(element, ast.Call) or ctx.qualified_name(element.func) not in LOADERS:
            return
        if (value.lineno, value.col_offset) != (element.lineno, element.col_offset):
            return  # `(torch.load(p),)` spells its tuple on purpose
        between = ctx.segment(end_of(element), end_of(value))
        if between.strip() != ",":
            return
        fix = ("Remove the trailing comma", [ctx.edit(end_of(element), end_of(value), "")])
        ctx.report(
            self,
            value,
            "trailing comma makes the loaded checkpoint a 1-tuple; remove it",
            fix,
        )
