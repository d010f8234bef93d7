"""Folders a function made itself: a temporary directory it created and saved into.

Loading from such a folder downloads nothing, so what it holds is what the same
function wrote there a moment before (``save_pretrained`` in a test, typically).
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.resolve import Assignment, ContextBinding

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

TEMP_DIR_MAKERS = frozenset({"tempfile.TemporaryDirectory", "tempfile.mkdtemp"})
# pytest's per-test temporary directory fixtures, received as parameters.
PYTEST_TEMP_FIXTURES = frozenset({"tmp_path", "tmpdir"})
# Calls that keep the first argument's folder: str(p), Path(p), os.path.join(p, ...).
_PATH_WRAPPERS = frozenset(
    {
        "builtins.str",
        "os.fspath",
        "os.path.join",
        "os.path.abspath",
        "pathlib.Path",
        "pathlib.PurePath",
    }
)


def path_root(ctx: Context, node: ast.AST | None) -> ast.Name | None:
    """The name a path expression is built on: ``d`` in ``d``, ``str(d)``, ``d / "m"``,
    ``os.path.join(d, "m")``, ``f"{d}/m"`` and ``d.name``."""
    for _ in range(8):  # paths are not nested deeper than this in practice
        if isinstance(node, ast.Name):
            return node
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            node = node.left
        elif isinstance(node, ast.Attribute) and node.attr == "name":
            node = node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            node = first.value if isinstance(first, ast.FormattedValue) else None
        elif isinstance(node, ast.Call) and node.args:
            if ctx.qualified_name(node.func) not in _PATH_WRAPPERS:
                return None
            node = node.args[0]
        else:
            return None
    return None


def is_temp_dir(ctx: Context, name: ast.Name) -> bool:
    binding = ctx.resolver.local_binding(name.id)
    if isinstance(binding, ContextBinding):
        made = binding.manager
    elif isinstance(binding, Assignment):
        made = binding.value
    else:
        return (
            binding is not None
            and isinstance(binding.node, ast.arg)
            and binding.node.arg in PYTEST_TEMP_FIXTURES
        )
    return isinstance(made, ast.Call) and ctx.qualified_name(made.func) in TEMP_DIR_MAKERS


def saved_here_into_temp_dir(ctx: Context, path: ast.AST | None) -> bool:
    """``path`` is in a temporary directory this function made and wrote with ``save*``."""
    root = path_root(ctx, path)
    if root is None or not is_temp_dir(ctx, root):
        return False
    scope = ctx.resolver.enclosing_function()
    trees = ctx.trees if scope is None else [scope]
    return any(_saves_into(ctx, node, root.id) for tree in trees for node in ast.walk(tree))


def _saves_into(ctx: Context, node: ast.AST, name: str) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    callee = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if not callee.startswith("save"):
        return False
    values = [*node.args, *(k.value for k in node.keywords)]
    return any(getattr(path_root(ctx, v), "id", None) == name for v in values)
