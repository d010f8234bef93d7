"""Evidence that a ``torch.load`` reads a whole pickled object rather than a state dict.

``weights_only=True`` refuses a pickled ``nn.Module`` (or optimizer, or any class of
the user's), so adding it there breaks the load: TV002 then offers no fix and says
how to re-save or allowlist instead.
"""

from __future__ import annotations

import ast
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


def _methods_called(trees: list[ast.AST]) -> dict[str, str]:
    """name -> one object method called on it (``model.eval()`` -> ``{"model": "eval"}``)."""
    found: dict[str, str] = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                receiver, method = node.func.value, node.func.attr
                if isinstance(receiver, ast.Name) and method in OBJECT_METHODS:
                    found.setdefault(receiver.id, method)
    return found


def whole_object_evidence(ctx: Context, call: ast.Call) -> str | None:
    """Why the result of ``call`` (a ``torch.load``) is evidently a whole object, or ``None``."""
    stack = ctx.resolver.node_stack
    parent = stack[-2] if len(stack) > 1 else None
    if isinstance(parent, ast.Attribute) and parent.attr in OBJECT_METHODS:
        return f"`.{parent.attr}()` is called on it"
    scope = ctx.resolver.enclosing_function()
    trees: list[ast.AST] = ctx.trees if scope is None else [scope]
    methods = _methods_called(trees)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
        target = parent.targets[0]
        if isinstance(target, ast.Name) and target.id in methods:
            return f"`{target.id}.{methods[target.id]}()` is called on it"
    source = argument(ctx, call, "f", 0)
    if source is None:
        return None
    wanted = ast.dump(source)
    for tree in ctx.trees:
        for node in ast.walk(tree):
            saved = _saved_object(ctx, node, wanted)
            if saved is not None and saved in methods:
                return f"`torch.save({saved}, ...)` writes that file whole"
    return None


def _saved_object(ctx: Context, node: ast.AST, path_dump: str) -> str | None:
    """The name ``torch.save(name, <same path>)`` saves, if ``node`` is such a call."""
    if not isinstance(node, ast.Call) or len(node.args) < 2:
        return None
    obj, path = node.args[0], node.args[1]
    if not isinstance(obj, ast.Name) or ast.dump(path) != path_dump:
        return None
    return obj.id if ctx.qualified_name(node.func) in TORCH_SAVE else None
