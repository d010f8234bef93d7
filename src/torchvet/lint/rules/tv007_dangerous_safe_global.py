from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import CallRule, argument

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

ALLOWLISTERS = frozenset(
    {"torch.serialization.add_safe_globals", "torch.serialization.safe_globals"}
)


def is_dangerous(qualified: str) -> bool:
    """A gadget or reflective name of the scanner's catalog (``torchvet.policy.catalog``),
    so that the lint and the scanner agree on which names run code."""
    from torchvet.policy.catalog import allowlisting_hazard  # loaded on first use

    return allowlisting_hazard(qualified) is not None


class DangerousSafeGlobal(CallRule):
    """
    ## What it does
    Finds `torch.serialization.add_safe_globals([...])` or `safe_globals([...])`
    allowlisting a callable that can run code: `eval`, `exec`, `getattr`,
    `__import__`, anything from `os`, `subprocess`, `pickle`, `marshal`,
    `importlib`, `torch.storage._load_from_bytes`, `functools.partial`, ...

    ## Why is this bad?
    The weights-only unpickler calls any allowlisted global with arguments taken
    from the file. Only `os`, `sys`, `posix` and `nt` are hard-blocked; allowlisting
    `getattr` or `eval` hands a crafted checkpoint a way to run code, and
    `_load_from_bytes` reopens a full, unrestricted `torch.load` inside the file.

    ## Example
    ```python
    torch.serialization.add_safe_globals([getattr, MyConfig])
    ```

    ## Use instead
    Allowlist only inert data classes, and re-save checkpoints whose pickles need more:
    ```python
    torch.serialization.add_safe_globals([MyConfig])
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV007"
    name = "dangerous-safe-global"
    summary = "allowlisting a code-running callable for `weights_only` loading"
    callees = ALLOWLISTERS

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        entries = argument(ctx, call, "safe_globals", 0)
        if not isinstance(entries, (ast.List, ast.Tuple, ast.Set)):
            return
        for entry in entries.elts:
            for name, pointer in self._names(ctx, entry):
                if is_dangerous(name):
                    ctx.report(
                        self,
                        pointer,
                        f"allowlisting `{name}` lets a checkpoint call it during a weights-only "
                        "load; allowlist only inert data classes",
                    )
                    break

    @staticmethod
    def _names(ctx: Context, entry: ast.expr) -> list[tuple[str, ast.AST]]:
        if isinstance(entry, ast.Tuple) and len(entry.elts) == 2:
            obj, spelled = entry.elts
            names = [(n, p) for n, p in [(ctx.qualified_name(obj), obj)] if n]
            if isinstance(spelled, ast.Constant) and isinstance(spelled.value, str):
                names.append((spelled.value, spelled))
            return names
        name = ctx.qualified_name(entry)
        return [(name, entry)] if name else []
