from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import TORCH_LOAD, Rule, is_false, keyword_value

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class UnsafeRetry(Rule):
    """
    ## What it does
    Finds a `try` that loads with `weights_only` on (explicitly or by default) whose
    `except` handler retries the load with `weights_only=False`.

    ## Why is this bad?
    The weights-only load fails precisely when the file holds something other than
    tensors, which is what a malicious checkpoint does. Falling back to
    `weights_only=False` then runs that payload: the check protects only files that
    were harmless anyway. Stanza's model loader was reported for this pattern.

    ## Example
    ```python
    try:
        state = torch.load(path, weights_only=True)
    except pickle.UnpicklingError:
        state = torch.load(path, weights_only=False)
    ```

    ## Use instead
    Fail, or allowlist the specific classes the file needs:
    ```python
    with torch.serialization.safe_globals([MyConfig]):
        state = torch.load(path, weights_only=True)
    ```

    ## Fix availability and safety
    No fix: the right allowlist depends on the checkpoint.
    """

    code = "TV006"
    name = "unsafe-retry"
    summary = "retrying a failed weights-only load with `weights_only=False`"
    hot_words = frozenset({"weights_only", "load"})
    node_types = (ast.Try, *((ast.TryStar,) if hasattr(ast, "TryStar") else ()))

    def check(self, node: ast.AST, ctx: Context) -> None:
        assert isinstance(node, ast.Try)
        if not any(self._is_load(ctx, c) and not self._unsafe(ctx, c) for c in _calls(node.body)):
            return
        for handler in node.handlers:
            for call in _calls(handler.body):
                if self._is_load(ctx, call) and self._unsafe(ctx, call):
                    found = keyword_value(ctx, call, "weights_only")
                    assert found is not None
                    ctx.report(
                        self,
                        found[0],
                        "retrying with `weights_only=False` after a weights-only load failed runs "
                        "exactly the files that check refused; let it fail or allowlist classes",
                    )

    @staticmethod
    def _is_load(ctx: Context, call: ast.Call) -> bool:
        return (
            ctx.qualified_name(call.func) in TORCH_LOAD
            or keyword_value(ctx, call, "weights_only") is not None
        )

    @staticmethod
    def _unsafe(ctx: Context, call: ast.Call) -> bool:
        found = keyword_value(ctx, call, "weights_only")
        return found is not None and is_false(ctx, found[1])


def _calls(body: list[ast.stmt]) -> Iterator[ast.Call]:
    """Calls in statements, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))
