from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import (
    UNKNOWN,
    CallRule,
    argument,
    has_opaque_kwargs,
    keyword_value,
)

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class HubLoadUntrusted(CallRule):
    """
    ## What it does
    Finds `torch.hub.load` of a GitHub repository with `trust_repo=True`, or with no
    `trust_repo` at all.

    ## Why is this bad?
    `torch.hub.load` downloads the repository and executes its `hubconf.py`.
    `trust_repo=True` adds it to the trusted list without asking; leaving it out
    depends on the torch release (older ones trusted silently) and on a cache of
    earlier downloads. Either way, code you have not read runs with your rights.

    ## Example
    ```python
    model = torch.hub.load("someone/models", "resnet", trust_repo=True)
    ```

    ## Use instead
    Pin a reviewed commit and let torch ask, or load a local checkout:
    ```python
    model = torch.hub.load("someone/models:3f2a1c9", "resnet", trust_repo="check")
    model = torch.hub.load("./models", "resnet", source="local")
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV106"
    name = "hub-load-untrusted"
    summary = "`torch.hub.load` trusting a GitHub repository's code"
    terminals = frozenset({"load"})
    callees = frozenset({"torch.hub.load", "torch.hub._load_local"})

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        source = argument(ctx, call, "source")
        if source is not None and ctx.constant(source) != "github":
            return  # "local", or not known statically
        found = keyword_value(ctx, call, "trust_repo")
        if found is None:
            if has_opaque_kwargs(ctx, call):
                return
            ctx.report(
                self,
                call,
                "`torch.hub.load` runs the repository's `hubconf.py`; without `trust_repo` "
                'older torch trusts it silently: pin a commit and pass `trust_repo="check"`',
            )
            return
        value = ctx.constant(found[1])
        if value is not UNKNOWN and value is not None and value is not False and value != "check":
            ctx.report(
                self,
                found[0],
                "`trust_repo=True` runs the repository's `hubconf.py` without asking; pin a "
                'reviewed commit and use `trust_repo="check"`, or `source="local"`',
            )
