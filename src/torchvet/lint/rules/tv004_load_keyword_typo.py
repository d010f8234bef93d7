from __future__ import annotations

import ast
import difflib
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import (
    KNOWN_KEYWORDS,
    TORCH_LOAD,
    CallRule,
    keyword_value,
)

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

SUGGESTIONS = ("weights_only", "map_location", "pickle_module", "mmap", "encoding")


class LoadKeywordTypo(CallRule):
    """
    ## What it does
    Finds a keyword passed to `torch.load` that is neither one of its parameters nor
    one the unpickler accepts, such as `weight_only`, `weights_onyl` or `map_locaton`.

    ## Why is this bad?
    `torch.load` collects unknown keywords in `**pickle_load_args` and hands them to
    the unpickler, so a misspelt `weights_only` is not the safety switch it looks like:
    the call fails with a confusing `Unpickler.__init__() got an unexpected keyword
    argument`, and a "fix" that deletes it leaves an unprotected load.

    ## Example
    ```python
    torch.load(path, weight_only=True, map_locaton="cpu")
    ```

    ## Use instead
    ```python
    torch.load(path, weights_only=True, map_location="cpu")
    ```

    ## Fix availability and safety
    Sometimes available, and safe: when the keyword is a near miss of exactly one
    `torch.load` parameter that the call does not already pass, it is renamed.
    """

    code = "TV004"
    name = "load-keyword-typo"
    summary = "misspelt `torch.load` keyword swallowed by `**pickle_load_args`"
    level = "error"
    callees = TORCH_LOAD
    fix_availability = "sometimes"
    fix_safety = "safe"

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        for keyword in call.keywords:
            name = keyword.arg
            if name is None or name in KNOWN_KEYWORDS:
                continue
            guess = difflib.get_close_matches(name, SUGGESTIONS, n=1, cutoff=0.7)
            if not guess:
                ctx.report(
                    self,
                    keyword,
                    f"`torch.load` has no parameter `{name}`; it is passed to the unpickler, "
                    "which rejects it with TypeError",
                )
                continue
            fix = None
            if keyword_value(ctx, call, guess[0]) is None:
                start = (keyword.lineno, keyword.col_offset)
                end = (keyword.lineno, keyword.col_offset + len(name))
                fix = (f"Rename to `{guess[0]}`", [ctx.edit(start, end, guess[0])])
            ctx.report(
                self,
                keyword,
                f"`{name}` is not a `torch.load` parameter (did you mean `{guess[0]}`?); "
                "it is swallowed by `**pickle_load_args` and fails with TypeError",
                fix,
            )
