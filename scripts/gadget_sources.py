"""Read Python sources into small summaries for the gadget derivation (gen_gadgets.py).

One summary per module: what each module-level name is bound to, the classes (bases,
metaclass, methods, class attributes) and, for every function and method, the dotted
names its body refers to, with what the derivation needs to know about each call (is
its first argument a literal, which mode does an ``open`` get). Nothing is imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

# A binding: ("def", qual) | ("class", qual) | ("ref", path) | ("inst", path) | ("opaque", "")
# A path is "@a.b.c" (absolute) or "name.rest" (looked up in the module's scope).
Binding = tuple[str, str]
# A reference: (path, is_call, first argument is a literal, mode of an opener call)
# path forms: "@abs.path", "name.rest", "self:attr.rest", "super:attr",
# "new:<path>|attr.rest" (attribute of what calling <path> returns), "?:attr" (an
# attribute of an unknown local value).
# mode: None when no mode argument is given, the literal text, or "?" when computed.
Ref = tuple[str, bool, bool, "str | None"]


@dataclass
class FuncInfo:
    module: str
    cls: str | None  # qualified name of the class defining this method
    refs: list[Ref] = field(default_factory=list)


@dataclass
class ClassInfo:
    module: str
    bases: list[str] = field(default_factory=list)
    metaclass: str | None = None
    methods: dict[str, str] = field(default_factory=dict)  # name -> function qual
    attrs: dict[str, list[Binding]] = field(default_factory=dict)


@dataclass
class ModuleInfo:
    name: str
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)  # absolute module names
    funcs: dict[str, FuncInfo] = field(default_factory=dict)
    classes: dict[str, ClassInfo] = field(default_factory=dict)


def dotted(node: ast.AST) -> str | None:
    """A Name/Attribute chain as a path, else None.

    ``a.b.c``; ``self:x`` for ``type(self).x``; ``super:x`` for ``super().x``;
    ``new:<callee>|x`` for ``<callee>(...).x`` (an attribute of what a call returns).
    """
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    rest = ".".join(reversed(parts))
    if isinstance(node, ast.Name):
        return f"{node.id}.{rest}" if rest else node.id
    if isinstance(node, ast.Call) and rest:
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("super", "type"):
            return ("super:" if func.id == "super" else "self:") + rest
        callee = dotted(func)
        if callee is not None:
            return f"new:{callee}|{rest}"
    return None


def absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute module a ``from <level dots><target> import`` names."""
    if level == 0:
        return target or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join(base + ([target] if target else []))


def _literal(node: ast.AST) -> str | None:
    """A literal mode or flag: the text for str constants, "r" for os.O_RDONLY alone."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Attribute) and node.attr == "O_RDONLY":
        return "r"
    return None


def _mode(call: ast.Call) -> str | None:
    for kw in call.keywords:
        if kw.arg in ("mode", "flags"):
            return _literal(kw.value) or "?"
    if len(call.args) >= 2:
        return _literal(call.args[1]) or "?"
    return None


class _FunctionRefs(ast.NodeVisitor):
    """Every dotted name a function body refers to (nested functions and lambdas too)."""

    def __init__(self, module: str, is_package: bool, params: list[str], method: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.self_name = params[0] if method and params else None
        self.refs: list[Ref] = []
        # `self.x = a.b` / `self.x = A(...)` in a method: instance attributes
        self.self_attrs: dict[str, tuple[str, str]] = {}
        self.locals: set[str] = set(params)
        self.imports: dict[str, str] = {}
        self.globals: set[str] = set()
        # local name -> ("ref", path) for `x = a.b`, ("inst", callee) for `x = A(...)`
        self.aliases: dict[str, tuple[str, str]] = {}

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.imports[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.imports[top] = top

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = absolute(self.module, self.is_package, node.level, node.module)
        for alias in node.names:
            self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"

    def visit_Assign(self, node: ast.Assign) -> None:
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name):
            self._alias(target.id, node.value)
        elif (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == self.self_name
        ):
            self._alias(f"self.{target.attr}", node.value)
        self.generic_visit(node)

    def visit_withitem(self, node: ast.withitem) -> None:
        if isinstance(node.optional_vars, ast.Name):
            self._alias(node.optional_vars.id, node.context_expr)
        self.generic_visit(node)

    def _alias(self, name: str, value: ast.AST) -> None:
        if isinstance(value, ast.Call) and (callee := dotted(value.func)) is not None:
            self.aliases[name] = ("inst", callee)
        elif (path := dotted(value)) is not None:
            self.aliases[name] = ("ref", path)

    def visit_Call(self, node: ast.Call) -> None:
        path = dotted(node.func)
        if path is not None:
            first = node.args[0] if node.args else None
            literal = isinstance(first, ast.Constant)
            self.refs.append((path, True, literal, _mode(node)))
            self._chain_root(node.func)
        else:
            self.visit(node.func)
        for arg in node.args:
            self.visit(arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def _chain_root(self, node: ast.AST) -> None:
        """`A(x).b`: the call `A(x)` at the root of a chain is a call too."""
        while isinstance(node, ast.Attribute):
            node = node.value
        if isinstance(node, ast.Call):
            self.visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = dotted(node)
        if path is None:
            self.generic_visit(node)
            return
        if isinstance(node.ctx, ast.Load):
            self.refs.append((path, False, False, None))
        self._chain_root(node)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.refs.append((node.id, False, False, None))
        else:
            self.locals.add(node.id)

    def visit_arg(self, node: ast.arg) -> None:
        self.locals.add(node.arg)

    def _scope(self, node: ast.AST) -> None:
        self.locals.add(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scope

    def rebase(self, path: str, self_name: str | None, depth: int = 0) -> str | None:
        """The path in the forms the resolver knows, or None for an unknown local."""
        if path.startswith(("super:", "self:")) or depth > 8:
            return path
        if path.startswith("new:"):
            callee, rest = path[4:].rsplit("|", 1)
            base = self.rebase(callee, self_name, depth + 1)
            return f"new:{base}|{rest}" if base else f"?:{rest.rsplit('.', 1)[-1]}"
        root, _, rest = path.partition(".")
        tail = f".{rest}" if rest else ""
        if self_name is not None and root in (self_name, "cls"):
            return f"self:{rest}" if rest else None
        if root in self.imports:
            return f"@{self.imports[root]}{tail}"
        if root in self.aliases and root not in self.globals:
            kind, target = self.aliases[root]
            if kind == "ref":
                return self.rebase(target + tail, self_name, depth + 1)
            return f"new:{target}|{rest}" if rest else None
        if root in self.locals and root not in self.globals:
            return f"?:{rest.rsplit('.', 1)[-1]}" if rest else None
        return path

    def finish(self) -> list[Ref]:
        out = []
        for path, is_call, literal, mode in self.refs:
            based = self.rebase(path, self.self_name)
            if based is not None:
                out.append((based, is_call, literal, mode))
        return out

    def instance_attributes(self) -> dict[str, Binding]:
        """``self.x = ...`` bindings that resolve outside the method."""
        out: dict[str, Binding] = {}
        for name, (kind, target) in self.aliases.items():
            if not name.startswith("self."):
                continue
            based = self.rebase(target, None)
            if based is not None and ":" not in based:
                out[name[5:]] = (kind, based)
        return out


class _ModuleReader:
    def __init__(self, name: str, is_package: bool) -> None:
        self.info = ModuleInfo(name)
        self.is_package = is_package
        self.instance_attrs: dict[str, Binding] = {}  # of the class being read

    def body(self, stmts: list[ast.stmt], scope: dict[str, list[Binding]], prefix: str) -> None:
        for stmt in stmts:
            self.statement(stmt, scope, prefix)

    def statement(self, stmt: ast.stmt, scope: dict[str, list[Binding]], prefix: str) -> None:
        name = self.info.name
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{prefix}.{stmt.name}"
            cls = prefix if prefix != name else None
            self.info.funcs[qual] = FuncInfo(name, cls, self.function_refs(stmt, cls))
            scope.setdefault(stmt.name, []).append(("def", qual))
        elif isinstance(stmt, ast.ClassDef):
            self.klass(stmt, scope, prefix)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else alias.name.split(".")[0]
                scope.setdefault(bound, []).append(("ref", f"@{target}"))
        elif isinstance(stmt, ast.ImportFrom):
            base = absolute(name, self.is_package, stmt.level, stmt.module)
            for alias in stmt.names:
                if alias.name == "*":
                    self.info.stars.append(base)
                else:
                    ref = ("ref", f"@{base}.{alias.name}")
                    scope.setdefault(alias.asname or alias.name, []).append(ref)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            self.assign(stmt, scope)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for block in ("body", "orelse", "finalbody"):
                self.body(getattr(stmt, block, []), scope, prefix)
            for handler in getattr(stmt, "handlers", []):
                self.body(handler.body, scope, prefix)

    def assign(self, stmt: ast.Assign | ast.AnnAssign, scope: dict[str, list[Binding]]) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value
        if value is None:
            return
        pairs: list[tuple[ast.AST, ast.AST]] = []
        for target in targets:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                pairs.extend(zip(target.elts, value.elts, strict=False))
            else:
                pairs.append((target, value))
        for target, val in pairs:
            if not isinstance(target, ast.Name):
                continue
            path = dotted(val)
            if path is not None and ":" not in path:
                binding: Binding = ("ref", path)
            elif isinstance(val, ast.Call) and (call := dotted(val.func)) and ":" not in call:
                binding = ("inst", call)
            else:
                binding = ("opaque", "")
            scope.setdefault(target.id, []).append(binding)

    def klass(self, node: ast.ClassDef, scope: dict[str, list[Binding]], prefix: str) -> None:
        qual = f"{prefix}.{node.name}"
        info = ClassInfo(self.info.name)
        info.bases = [p for b in node.bases if (p := dotted(b)) and ":" not in p]
        for kw in node.keywords:
            if kw.arg == "metaclass" and (p := dotted(kw.value)):
                info.metaclass = p
        self.info.classes[qual] = info
        scope.setdefault(node.name, []).append(("class", qual))
        outer, self.instance_attrs = self.instance_attrs, {}
        self.body(node.body, info.attrs, qual)
        for name, binding in self.instance_attrs.items():
            info.attrs.setdefault(name, [binding])
        self.instance_attrs = outer
        for attr, bindings in info.attrs.items():
            for kind, target in bindings:
                if kind == "def" and target == f"{qual}.{attr}":
                    info.methods[attr] = target

    def function_refs(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef, cls: str | None
    ) -> list[Ref]:
        args = node.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        params += [a.arg for a in (args.vararg, args.kwarg) if a is not None]
        visitor = _FunctionRefs(self.info.name, self.is_package, params, cls is not None)
        for stmt in node.body:
            visitor.visit(stmt)
        for name, binding in visitor.instance_attributes().items():
            self.instance_attrs.setdefault(name, binding)
        return visitor.finish()


def read_module(name: str, is_package: bool, source: bytes) -> ModuleInfo | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    reader = _ModuleReader(name, is_package)
    reader.body(tree.body, reader.info.bindings, name)
    return reader.info
