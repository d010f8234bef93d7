from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import (
    KNOWN_KEYWORDS,
    Rule,
    append_argument,
    argument,
    has_opaque_kwargs,
    is_torch_load,
    keyword_value,
)

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class LoadWithoutWeightsOnly(Rule):
    """
    ## What it does
    Finds `torch.load` (or `torch.serialization.load`, under any alias) called
    without an explicit `weights_only`.

    ## Why is this bad?
    Before torch 2.6 the default was `weights_only=False`: the checkpoint is a pickle
    and loading it runs whatever code its author put in. The default changed in 2.6,
    but code still runs on older releases, `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1` turns
    it back off, and readers cannot tell which behaviour the author meant. Saying
    `weights_only=True` makes the safe load explicit on every version.

    ## Example
    ```python
    state = torch.load("checkpoint.pt")
    ```

    ## Use instead
    ```python
    state = torch.load("checkpoint.pt", weights_only=True)
    ```

    ## Fix availability and safety
    Always available when no `pickle_module` is passed, and unsafe: a checkpoint that
    holds more than tensors and plain containers (a whole pickled model, a custom
    class) stops loading until its classes are allowlisted with
    `torch.serialization.safe_globals` or it is re-saved as a state dict.
    """

    code = "TV002"
    name = "load-without-weights-only"
    summary = "`torch.load` without an explicit `weights_only`"
    terminals = frozenset({"load"})
    fix_availability = "always"
    fix_safety = "unsafe"

    def check(self, node: ast.AST, ctx: Context) -> None:
        call = node
        assert isinstance(call, ast.Call)
        if not is_torch_load(ctx, call) or keyword_value(ctx, call, "weights_only") is not None:
            return
        if has_opaque_kwargs(ctx, call) or argument(ctx, call, "pickle_module", 2) is not None:
            return  # hidden in **kwargs, or TV005's case
        if any(k.arg not in KNOWN_KEYWORDS for k in call.keywords if k.arg):
            return  # a misspelt keyword (TV004) is probably the missing `weights_only`
        outer = ctx.resolver.parent
        if (
            isinstance(outer, ast.Call)
            and isinstance(outer.func, ast.Attribute)
            and outer.func.attr == "load_state_dict"
            and keyword_value(ctx, outer, "weights_only") is not None
        ):
            return  # TV001: the author wrote `weights_only`, one call too far out
        ctx.report(
            self,
            call,
            "`torch.load` without `weights_only`: pass `weights_only=True` so that loading "
            "never runs code from the file",
            ("Add `weights_only=True`", [append_argument(ctx, call, "weights_only=True")]),
        )
