"""Evidence that a ``torch.load`` reads a whole pickled object rather than a state dict.

``weights_only=True`` refuses a pickled ``nn.Module`` (or optimizer, or any class of
the user's), so adding it there breaks the load: TV002 then offers no fix and says
how to re-save or allowlist instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import TORCH_SAVE, argument

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

# Methods that a module or optimizer has and a state dict or a tensor does not.
OBJECT_METHODS = frozenset(
    {
        "eval",
        "train",
        "forward",
        "parameters",
        "named_parameters",
        "modules",
        "named_modules",
        "children",
        "state_dict",
        "zero_grad",
        "register_forward_hook",
    }
)


@dataclass
class _ScopeFacts:
    """What one walk of a scope tells: object methods called on names, and the
    ``torch.save(name, path)`` calls (path as an ``ast.dump``)."""

    methods: dict[str, str] = field(default_factory=dict)
    saves: list[tuple[str, str]] = field(default_factory=list)


def _facts(ctx: Context, trees: list[ast.AST]) -> _ScopeFacts:
    # A function's facts are final; the module's grow with each snippet (cell).
    key = ("objects", id(trees[0])) if trees is not ctx.trees else ("objects", len(trees))
    facts = ctx.memo.get(key)
    if facts is None:
        facts = ctx.memo[key] = _ScopeFacts()
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    _record(ctx, node, facts)
    return facts


def _record(ctx: Context, call: ast.Call, facts: _ScopeFacts) -> None:
    func = call.func
    if not isinstance(func, ast.Attribute):
        return
    if func.attr in OBJECT_METHODS and isinstance(func.value, ast.Name):
        facts.methods.setdefault(func.value.id, func.attr)
    elif (
        func.attr == "save"
        and len(call.args) >= 2
        and isinstance(call.args[0], ast.Name)
        and ctx.qualified_name(func) in TORCH_SAVE
    ):
        facts.saves.append((call.args[0].id, ast.dump(call.args[1])))


def _mentions_object_methods(ctx: Context) -> bool:
    """Cheap test before any walk: some code read so far calls a method like ``.eval(``."""
    key = ("object-methods", len(ctx.sources))
    if key not in ctx.memo:
        ctx.memo[key] = any(
            f".{method}(" in code for code in ctx.sources for method in OBJECT_METHODS
        )
    return bool(ctx.memo[key])


def whole_object_evidence(ctx: Context, call: ast.Call) -> str | None:
    """Why the result of ``call`` (a ``torch.load``) is evidently a whole object, or ``None``."""
    stack = ctx.resolver.node_stack
    parent = stack[-2] if len(stack) > 1 else None
    if isinstance(parent, ast.Attribute) and parent.attr in OBJECT_METHODS:
        return f"`.{parent.attr}()` is called on it"
    if not _mentions_object_methods(ctx):
        return None  # no `.eval(`-like call anywhere: nothing to walk the scope for
    scope = ctx.resolver.enclosing_function()
    methods = _facts(ctx, ctx.trees if scope is None else [scope]).methods
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        if isinstance(target, ast.Name) and target.id in methods:
            return f"`{target.id}.{methods[target.id]}()` is called on it"
    source = argument(ctx, call, "f", 0)
    if source is None:
        return None
    wanted = ast.dump(source)
    for saved, path in _facts(ctx, ctx.trees).saves:
        if path == wanted and saved in methods:
            return f"`torch.save({saved}, ...)` writes that file whole"
    return None
