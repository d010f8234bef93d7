from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import CallRule, is_false, keyword_value
from torchvet.lint.rules.tv107_trust_remote_code import is_pretrained_loader

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class UseSafetensorsFalse(CallRule):
    """
    ## What it does
    Finds `from_pretrained(..., use_safetensors=False)`.

    ## Why is this bad?
    It makes the library skip `model.safetensors` and read the pickled
    `pytorch_model.bin` instead, the one weight format that can run code when
    loaded.

    ## Example
    ```python
    model = AutoModel.from_pretrained("org/model", use_safetensors=False)
    ```

    ## Use instead
    ```python
    model = AutoModel.from_pretrained("org/model", use_safetensors=True)
    ```

    ## Fix availability and safety
    No fix: a repository without safetensors weights then fails to load.
    """

    code = "TV108"
    name = "use-safetensors-false"
    summary = "`use_safetensors=False` prefers pickled weights"
    terminals = frozenset({"from_pretrained", "pipeline"})

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        if not is_pretrained_loader(ctx, call):
            return
        found = keyword_value(ctx, call, "use_safetensors")
        if found is not None and is_false(ctx, found[1]):
            ctx.report(
                self,
                found[0],
                "`use_safetensors=False` loads pickled weights that can run code; "
                "let it load safetensors",
            )
