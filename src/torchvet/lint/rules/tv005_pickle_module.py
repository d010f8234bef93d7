from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import (
    TORCH_LOAD,
    CallRule,
    argument,
    has_opaque_kwargs,
    is_true,
    keyword_value,
)

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class LoadPickleModule(CallRule):
    """
    ## What it does
    Finds `torch.load(..., pickle_module=...)` together with `weights_only=True`, or
    without any `weights_only`.

    ## Why is this bad?
    With `weights_only=True` the call always fails: "Can not safely load weights when
    explicit pickle_module is specified" (RuntimeError). Without `weights_only`,
    passing `pickle_module` silently switches the default to `weights_only=False`, so
    the load runs arbitrary code from the file, with no warning.

    ## Example
    ```python
    torch.load(path, pickle_module=pickle)
    ```

    ## Use instead
    ```python
    torch.load(path, weights_only=True)
    ```

    ## Fix availability and safety
    No fix: dropping `pickle_module` changes how the file is read.
    """

    code = "TV005"
    name = "load-pickle-module"
    summary = "`pickle_module` with `weights_only=True`, or silently turning it off"
    level = "error"
    callees = TORCH_LOAD

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        pickle_module = argument(ctx, call, "pickle_module", 2)
        if pickle_module is None or isinstance(pickle_module, ast.Constant):
            return  # absent, or `pickle_module=None`
        found = keyword_value(ctx, call, "weights_only")
        if found is None:
            if has_opaque_kwargs(ctx, call):
                return
            message = (
                "`pickle_module` without `weights_only` silently turns `weights_only` off: "
                "the file can run code on load; drop `pickle_module` and pass `weights_only=True`"
            )
        elif not is_true(ctx, found[1]):
            return  # False is TV003's; an unknown value we cannot judge
        else:
            message = (
                '`pickle_module` with `weights_only` raises RuntimeError ("Can not safely load '
                'weights when explicit pickle_module is specified"); drop `pickle_module`'
            )
        ctx.report(self, pickle_module, message)
