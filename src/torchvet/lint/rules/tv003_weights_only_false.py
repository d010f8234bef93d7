from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import Rule, is_false, keyword_value

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class WeightsOnlyFalse(Rule):
    """
    ## What it does
    Finds `weights_only=False`, written directly, through a module constant
    (`WEIGHTS_ONLY = False`), in a literal `**{"weights_only": False}`, or in a
    `**kwargs` dict literal bound once in the same function or module and never
    changed (`kw = {"weights_only": False}; torch.load(p, **kw)`), in any call.

    ## Why is this bad?
    `weights_only=False` lets `torch.load` unpickle arbitrary objects, so a crafted
    checkpoint runs code (`os.system`, `eval`, ...) the moment it is loaded. It is
    the usual copy-pasted "fix" for the `UnpicklingError` torch 2.6 started raising.

    ## Example
    ```python
    checkpoint = torch.load(path, weights_only=False)
    ```

    ## Use instead
    Allowlist exactly the classes the checkpoint needs, or save plain state dicts:
    ```python
    with torch.serialization.safe_globals([argparse.Namespace]):
        checkpoint = torch.load(path, weights_only=True)
    ```

    ## Fix availability and safety
    No fix: which classes to allowlist depends on the checkpoint
    (`torchvet scan` names them).
    """

    code = "TV003"
    name = "weights-only-false"
    summary = "`weights_only=False` turns off safe loading"
    keywords = frozenset({"weights_only"})

    def check(self, node: ast.AST, ctx: Context) -> None:
        assert isinstance(node, ast.Call)
        if ctx.call_name == "builtins.dict" and ctx.judged_where_unpacked(node):
            return
        found = keyword_value(ctx, node, "weights_only")
        if found is not None and is_false(ctx, found[1]):
            callee = ctx.call_name or _callee_text(ctx, node)
            ctx.report(
                self,
                found[0],
                f"`weights_only=False` in `{callee}(...)` lets the checkpoint run code on load; "
                "allowlist the classes it needs with `torch.serialization.safe_globals` instead",
            )


def _callee_text(ctx: Context, call: ast.Call) -> str:
    text = ctx.node_text(call.func)
    return text if len(text) <= 40 and "\n" not in text else "..."
