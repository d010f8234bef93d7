from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.project import torch_floor
from torchvet.lint.rules.base import (
    KNOWN_KEYWORDS,
    TORCH_LOAD,
    CallRule,
    append_argument,
    argument,
    has_opaque_kwargs,
    keyword_value,
)
from torchvet.lint.rules.objects import whole_object_evidence

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

# `weights_only` is a `torch.load` parameter since torch 1.13.
WEIGHTS_ONLY_SINCE = (1, 13)


class LoadWithoutWeightsOnly(CallRule):
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
    Sometimes available, and unsafe: a checkpoint that holds more than tensors and
    plain containers (a whole pickled model, a custom class) stops loading until its
    classes are allowlisted with `torch.serialization.safe_globals` or it is re-saved
    as a state dict.

    No fix is offered where the loaded object is evidently a whole object
    (`m = torch.load(p); m.eval()`, `.forward(`, `.parameters()`, or a
    `torch.save(model, p)` of the same path in the file): the message says how to
    re-save or allowlist instead. Nor where the project's packaging
    (`pyproject.toml`, `setup.cfg`, `setup.py`, `requirements*.txt` in the nearest
    folder above the file that has any) allows a torch older than 1.13, which has
    no `weights_only` parameter.
    """

    code = "TV002"
    name = "load-without-weights-only"
    summary = "`torch.load` without an explicit `weights_only`"
    callees = TORCH_LOAD
    fix_availability = "sometimes"
    fix_safety = "unsafe"

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        if keyword_value(ctx, call, "weights_only") is not None:
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
        head = "`torch.load` without `weights_only`"
        evidence = whole_object_evidence(ctx, call)
        if evidence is not None:
            ctx.report(
                self,
                call,
                f"{head} reads a whole pickled object here ({evidence}), which "
                "`weights_only=True` refuses: re-save it as a state dict "
                "(`torch.save(model.state_dict(), path)`) and load that with "
                "`weights_only=True`, or allowlist its classes with "
                "`torch.serialization.safe_globals([...])`",
            )
            return
        message = f"{head}: pass `weights_only=True` so that loading never runs code from the file"
        floor = torch_floor(ctx.path)
        if floor is not None and floor.version < WEIGHTS_ONLY_SINCE:
            ctx.report(
                self,
                call,
                f"{message} (no fix: {floor.source} allows torch {floor.text}, older than "
                "1.13 where `weights_only` arrived; require torch>=1.13 to get it)",
            )
            return
        fix = ("Add `weights_only=True`", [append_argument(ctx, call, "weights_only=True")])
        ctx.report(self, call, message, fix)
