"""Name resolution, pyflakes-style: one walk, explicit scopes and bindings.

Rules never match spellings; they ask ``Resolver.qualified_name(node)`` and get
``"torch.load"`` for ``torch.load``, ``T.load`` after ``import torch as T``,
``tl`` after ``from torch import load as tl``, and ``None`` for anything bound to
something else (a parameter, a local assignment, an attribute of ``self``).

As in pyflakes, function bodies are walked after the enclosing module, so they
see the module's final bindings, which is what happens when they are called.
"""

from __future__ import annotations

import ast
import bisect
import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

BUILTIN_NAMES = frozenset(dir(builtins))

# Unbound root names assumed to be the usual module.  Notebook cells and doc
# snippets often use `torch` or `np` whose import is elsewhere (or omitted).
IMPLICIT_MODULES = {
    "torch": "torch",
    "pickle": "pickle",
    "cPickle": "cPickle",
    "_pickle": "_pickle",
    "dill": "dill",
    "cloudpickle": "cloudpickle",
    "joblib": "joblib",
    "numpy": "numpy",
    "np": "numpy",
    "pandas": "pandas",
    "pd": "pandas",
    "os": "os",
    "subprocess": "subprocess",
    "builtins": "builtins",
}


@dataclass
class Binding:
    name: str
    node: ast.AST | None


@dataclass
class Importation(Binding):
    qualified: str = ""


@dataclass
class Assignment(Binding):
    """``name = value``; ``value`` is kept only while the name is bound once."""

    value: ast.expr | None = None


@dataclass
class Definition(Binding):
    """A ``def`` or ``class``."""


@dataclass
class ContextBinding(Binding):
    """``with manager as name``: ``manager`` is kept to tell what ``name`` holds."""

    manager: ast.expr | None = None


@dataclass
class Scope:
    bindings: dict[str, Binding] = field(default_factory=dict)
    assignment_counts: dict[str, int] = field(default_factory=dict)

    def bind(self, binding: Binding) -> None:
        count = self.assignment_counts.get(binding.name, 0) + 1
        self.assignment_counts[binding.name] = count
        if count > 1 and isinstance(binding, Assignment):
            binding.value = None  # rebound: its value depends on the path taken
        self.bindings[binding.name] = binding


class ModuleScope(Scope):
    pass


class FunctionScope(Scope):
    pass


class ClassScope(Scope):
    pass


class ComprehensionScope(FunctionScope):
    """The scope of a comprehension's loop variables; it belongs to the enclosing function."""


Visitor = Callable[[ast.AST, "Resolver"], None]
# Fields that hold only operator and load/store singletons: nothing to resolve or check.
_LEAF_FIELDS = frozenset({"ctx", "op", "ops"})


@cache
def _child_fields(node_type: type) -> tuple[str, ...]:
    """The fields of a node type that may hold child nodes (``ast.iter_child_nodes``'s
    walk, without the per-node generator and without operator singletons)."""
    return tuple(name for name in node_type._fields if name not in _LEAF_FIELDS)


class Resolver:
    """Walks modules in order, keeping scopes, and calls ``visit`` on every node.

    Several snippets of one document (cells of a notebook, blocks of a tutorial)
    share one module scope, as they share one interpreter when run in order.
    """

    def __init__(self, visit: Visitor) -> None:
        self._visit = visit
        self.module_scope = ModuleScope()
        self.scope_stack: list[Scope] = [self.module_scope]
        self.node_stack: list[ast.AST] = []
        self._deferred: list[tuple[list[Scope], list[ast.AST], ast.AST]] = []
        # Sorted lines that may matter to a rule; statements elsewhere only bind names.
        self.hot_lines: list[int] | None = None

    # --- queries --------------------------------------------------------------
    def lookup(self, name: str) -> Binding | None:
        innermost = self.scope_stack[-1]
        for scope in reversed(self.scope_stack):
            if isinstance(scope, ClassScope) and scope is not innermost:
                continue  # class bodies are not visible from nested functions
            binding = scope.bindings.get(name)
            if binding is not None:
                return binding
        return None

    def qualified_name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            binding = self.lookup(node.id)
            if binding is None:
                if node.id in BUILTIN_NAMES:
                    return "builtins." + node.id
                return IMPLICIT_MODULES.get(node.id)
            if isinstance(binding, Importation):
                return binding.qualified
            return None
        if isinstance(node, ast.Attribute):
            base = self.qualified_name(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def constant(self, node: ast.AST) -> object:
        """The literal value of ``node``, following a name bound once to a literal.

        Returns ``NotImplemented`` when the value cannot be known statically.
        """
        if isinstance(node, ast.Name):
            binding = self.lookup(node.id)
            if isinstance(binding, Assignment) and binding.value is not None:
                node = binding.value
            elif binding is None and node.id in ("True", "False", "None"):
                return {"True": True, "False": False, "None": None}[node.id]
        if isinstance(node, ast.Constant):
            return node.value
        return NotImplemented

    def local_binding(self, name: str, module_too: bool = False) -> Binding | None:
        """``name``'s binding in the innermost function (comprehensions belong to it) or
        module; with ``module_too``, also the module's binding seen from a function."""
        for scope in reversed(self.scope_stack):
            binding = scope.bindings.get(name)
            if binding is not None:
                return binding
            if not isinstance(scope, ComprehensionScope):
                break
        if module_too and self.scope_stack[-1] is not self.module_scope:
            binding = self.lookup(name)
            if binding is self.module_scope.bindings.get(name):
                return binding
        return None

    def local_value(self, node: ast.AST, module_too: bool = False) -> ast.expr | None:
        """What a name was assigned, if bound once in this function (or module)."""
        if not isinstance(node, ast.Name):
            return None
        binding = self.local_binding(node.id, module_too)
        return binding.value if isinstance(binding, Assignment) else None

    def enclosing_function(self) -> ast.AST | None:
        """The innermost ``def`` or ``lambda`` around the node being visited."""
        for node in reversed(self.node_stack):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                return node
        return None

    @property
    def parent(self) -> ast.AST | None:
        return self.node_stack[-2] if len(self.node_stack) > 1 else None

    # --- walking --------------------------------------------------------------
    def run(self, tree: ast.Module) -> None:
        for statement in tree.body:
            self._walk(statement)
        while self._deferred:
            stack, nodes, function = self._deferred.pop(0)
            saved = self.scope_stack, self.node_stack
            self.scope_stack, self.node_stack = [*stack, FunctionScope()], list(nodes)
            self._bind_arguments(function.args)  # type: ignore[attr-defined]
            for statement in function.body:  # type: ignore[attr-defined]
                self._walk(statement)
            self.scope_stack, self.node_stack = saved

    def _is_cold(self, statement: ast.stmt) -> bool:
        hot = self.hot_lines
        if hot is None:
            return False
        index = bisect.bisect_left(hot, statement.lineno)
        return index == len(hot) or hot[index] > (statement.end_lineno or statement.lineno)

    def _bind_only(self, statement: ast.stmt) -> None:
        """The name bindings of a statement no rule needs to look inside."""
        kind = type(statement)
        if kind is ast.Import or kind is ast.ImportFrom or kind is ast.Assign:
            _HANDLERS[kind](self, statement)
        elif kind is ast.AnnAssign or kind is ast.AugAssign:
            target = statement.target  # type: ignore[attr-defined]
            if isinstance(target, ast.Name):
                self._bind(Assignment(target.id, target, None))
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self._bind(Definition(statement.name, statement))  # type: ignore[attr-defined]
        else:
            for name in ("target", "optional_vars"):
                target = getattr(statement, name, None)
                if isinstance(target, ast.Name):
                    self._bind(Binding(target.id, target))
            for item in getattr(statement, "items", ()):  # with-statements
                self._bind_with_item(item)
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(statement, field_name, ()):
                    if isinstance(child, ast.ExceptHandler):
                        for inner in child.body:
                            self._walk(inner)
                    else:
                        self._walk(child)

    def _walk(self, node: ast.AST) -> None:
        if isinstance(node, ast.stmt) and self._is_cold(node):
            self._bind_only(node)
            return
        self.node_stack.append(node)
        try:
            handler = _HANDLERS.get(type(node))
            if handler is not None:
                handler(self, node)
            else:
                self._visit(node, self)
                for field_name in _child_fields(type(node)):
                    value = getattr(node, field_name, None)
                    if type(value) is list:
                        for child in value:
                            if isinstance(child, ast.AST):
                                self._walk(child)
                    elif isinstance(value, ast.AST):
                        self._walk(value)
        finally:
            self.node_stack.pop()

    def _walk_all(self, nodes: list) -> None:
        for node in nodes:
            if node is not None:
                self._walk(node)

    def _bind(self, binding: Binding) -> None:
        self.scope_stack[-1].bind(binding)

    def _bind_arguments(self, args: ast.arguments) -> None:
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                self._bind(Binding(arg.arg, arg))

    # --- node handlers --------------------------------------------------------
    def _import(self, node: ast.Import) -> None:
        self._visit(node, self)
        for alias in node.names:
            if alias.asname:
                self._bind(Importation(alias.asname, node, alias.name))
            else:
                root = alias.name.split(".", 1)[0]
                self._bind(Importation(root, node, root))

    def _import_from(self, node: ast.ImportFrom) -> None:
        self._visit(node, self)
        module = "." * node.level + (node.module or "")
        for alias in node.names:
            if alias.name == "*":
                continue
            self._bind(Importation(alias.asname or alias.name, node, f"{module}.{alias.name}"))

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._visit(node, self)
        if not isinstance(node, ast.Lambda):
            self._walk_all(node.decorator_list)
        self._walk_all([*node.args.defaults, *node.args.kw_defaults])
        if isinstance(node, ast.Lambda):
            self.scope_stack.append(FunctionScope())
            self._bind_arguments(node.args)
            self._walk(node.body)
            self.scope_stack.pop()
            return
        self._walk_all([node.returns])
        self._bind(Definition(node.name, node))
        self._deferred.append((list(self.scope_stack), list(self.node_stack), node))

    def _class(self, node: ast.ClassDef) -> None:
        self._visit(node, self)
        self._walk_all([*node.decorator_list, *node.bases, *node.keywords])
        self.scope_stack.append(ClassScope())
        for statement in node.body:
            self._walk(statement)
        self.scope_stack.pop()
        self._bind(Definition(node.name, node))

    def _assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        self._visit(node, self)
        self._walk_all([node.value])
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if isinstance(target, ast.Name):
                self._bind(Assignment(target.id, target, node.value))
            else:
                self._walk(target)

    def _name(self, node: ast.Name) -> None:
        self._visit(node, self)
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self._bind(Binding(node.id, node))

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        self._visit(node, self)
        for item in node.items:
            self._walk(item.context_expr)
            if isinstance(item.optional_vars, ast.Name):
                self._bind_with_item(item)
            elif item.optional_vars is not None:
                self._walk(item.optional_vars)
        self._walk_all(node.body)

    def _bind_with_item(self, item: ast.withitem) -> None:
        target = item.optional_vars
        if isinstance(target, ast.Name):
            self._bind(ContextBinding(target.id, target, item.context_expr))

    def _comprehension(self, node: ast.AST) -> None:
        self._visit(node, self)
        self.scope_stack.append(ComprehensionScope())
        for generator in node.generators:  # type: ignore[attr-defined]
            self._walk(generator)
        for field_name in ("elt", "key", "value"):
            child = getattr(node, field_name, None)
            if child is not None:
                self._walk(child)
        self.scope_stack.pop()

    def _except_handler(self, node: ast.ExceptHandler) -> None:
        self._visit(node, self)
        self._walk_all([node.type])
        if node.name:
            self._bind(Binding(node.name, node))
        self._walk_all(node.body)


_HANDLERS: dict[type, Callable[[Resolver, ast.AST], None]] = {
    ast.Import: Resolver._import,
    ast.ImportFrom: Resolver._import_from,
    ast.FunctionDef: Resolver._function,
    ast.AsyncFunctionDef: Resolver._function,
    ast.Lambda: Resolver._function,
    ast.ClassDef: Resolver._class,
    ast.Assign: Resolver._assign,
    ast.AnnAssign: Resolver._assign,
    ast.Name: Resolver._name,
    ast.ListComp: Resolver._comprehension,
    ast.SetComp: Resolver._comprehension,
    ast.GeneratorExp: Resolver._comprehension,
    ast.DictComp: Resolver._comprehension,
    ast.ExceptHandler: Resolver._except_handler,
    ast.With: Resolver._with,
    ast.AsyncWith: Resolver._with,
}  # type: ignore[dict-item]
