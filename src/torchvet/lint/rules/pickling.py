"""What TV101 and TV102 share: bytes this scope pickled itself, and unpickler subclasses.

A round trip (``pickle.loads(pickle.dumps(x))``, or ``data = pickle.dumps(obj)`` then
``pickle.loads(data)`` in the same function) reads bytes the program made a moment
ago from its own objects: no outsider can have put code in them.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, ClassVar

from torchvet.lint.rules.base import Rule

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

PICKLERS = ("pickle", "_pickle", "cPickle", "dill", "cloudpickle")
DUMPS = frozenset(f"{module}.dumps" for module in PICKLERS)
BYTES_IO = frozenset({"io.BytesIO", "_io.BytesIO"})
# How many names a round trip may pass through (`a = dumps(x); b = a; loads(b)`).
_MAX_HOPS = 4


def produced_here(ctx: Context, node: ast.expr | None, hops: int = _MAX_HOPS) -> bool:
    """``node`` holds pickle bytes made in this scope (a ``dumps`` call, a name bound once
    to one, a ``BytesIO`` of them, or an empty ``BytesIO()`` this scope writes to)."""
    if node is None or hops == 0:
        return False
    if isinstance(node, ast.Name):
        return produced_here(ctx, ctx.resolver.local_value(node), hops - 1)
    if not isinstance(node, ast.Call):
        return False
    name = ctx.qualified_name(node.func)
    if name in DUMPS:
        return True
    if name in BYTES_IO:
        if not node.args and not node.keywords:
            return True  # an empty in-memory buffer holds only what this scope writes
        return len(node.args) == 1 and produced_here(ctx, node.args[0], hops - 1)
    return False


class PickleLoaderRule(Rule):
    """Base of TV101 and TV102: loader calls, and ``Unpickler`` subclasses that do not
    restrict ``find_class`` (no docstring of its own)."""

    targets: ClassVar[frozenset[str]]
    unpicklers: ClassVar[frozenset[str]]
    advice: ClassVar[str]
    node_types = (ast.Call, ast.ClassDef)

    def check(self, node: ast.AST, ctx: Context) -> None:
        if isinstance(node, ast.ClassDef):
            self._check_subclass(node, ctx)
            return
        assert isinstance(node, ast.Call)
        if ctx.call_name not in self.targets:
            return
        if produced_here(ctx, node.args[0] if node.args else None):
            return  # a round trip: these bytes were pickled by this very scope
        ctx.report(self, node, f"`{ctx.call_name}` {self.advice}")

    def _check_subclass(self, cls: ast.ClassDef, ctx: Context) -> None:
        for base in cls.bases:
            name = ctx.qualified_name(base)
            if name in self.unpicklers and not restricts_find_class(cls):
                ctx.report(
                    self,
                    base,
                    f"`{cls.name}` subclasses `{name}` but its `find_class` falls back to the "
                    "default, so loading runs code named by the data; raise "
                    "`pickle.UnpicklingError` for any global outside an allowlist",
                )
                return


def restricts_find_class(cls: ast.ClassDef) -> bool:
    """Whether the class's ``find_class`` can refuse a global.

    It can when it raises, or when it never hands the name to the base class's
    ``find_class`` (it looks names up in its own table). Without a ``find_class``, or
    with one that ends in ``super().find_class(...)`` and never raises, it cannot.
    """
    method = _find_class(cls)
    if method is None:
        return False
    if not isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return True  # `find_class = something`: not ours to judge
    body = list(_own_nodes(method.body))
    if any(isinstance(node, ast.Raise) for node in body):
        return True
    return not any(_calls_base_find_class(node) for node in body)


def _find_class(cls: ast.ClassDef) -> ast.AST | None:
    for statement in cls.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if statement.name == "find_class":
                return statement
        elif isinstance(statement, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "find_class" for t in statement.targets
        ):
            return statement
    return None


def _own_nodes(body: list[ast.stmt]):
    """Nodes of a function body, not descending into nested functions or classes."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _calls_base_find_class(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "find_class"
    )
