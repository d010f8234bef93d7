from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import Rule, is_true, keyword_value

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

PIPELINES = frozenset({"transformers.pipeline"})


def is_pretrained_loader(ctx: Context, call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
        return True
    return ctx.call_name in PIPELINES


class TrustRemoteCode(Rule):
    """
    ## What it does
    Finds `from_pretrained(..., trust_remote_code=True)` (and the same keyword on
    `transformers.pipeline`).

    ## Why is this bad?
    `trust_remote_code=True` downloads Python modules from the model repository and
    imports them. Whoever can push to that repository (or to a repository name you
    mistype) runs code on your machine, at every new revision.

    ## Example
    ```python
    model = AutoModel.from_pretrained("org/model", trust_remote_code=True)
    ```

    ## Use instead
    Use a model whose architecture ships with the library, or pin a reviewed
    revision:
    ```python
    model = AutoModel.from_pretrained("org/model", trust_remote_code=True, revision="3f2a1c9")
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV107"
    name = "trust-remote-code"
    summary = "`trust_remote_code=True` imports code from a model repository"
    terminals = frozenset({"from_pretrained", "pipeline"})

    def check(self, node: ast.AST, ctx: Context) -> None:
        call = node
        assert isinstance(call, ast.Call)
        if not is_pretrained_loader(ctx, call):
            return
        found = keyword_value(call, "trust_remote_code")
        if found is None or not is_true(ctx, found[1]):
            return
        if keyword_value(call, "revision") is not None:
            return  # pinned to a revision someone can review
        ctx.report(
            self,
            found[0],
            "`trust_remote_code=True` imports Python code from the model repository; use a "
            "built-in architecture or pin a reviewed `revision=`",
        )
