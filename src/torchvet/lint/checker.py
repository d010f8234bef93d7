"""Run the rules over the snippets of one document: parse, resolve names, dispatch."""

from __future__ import annotations

import ast
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from torchvet.lint.astutil import Position, end_of, start_of
from torchvet.lint.model import Diagnostic, Edit, Fix, Note, Snippet
from torchvet.lint.prefilter import hot_lines
from torchvet.lint.resolve import Resolver
from torchvet.lint.rules.base import Rule
from torchvet.lint.sources.docstrings import docstring_groups
from torchvet.lint.sources.magics import neutralise
from torchvet.lint.text import char_col, split_lines


def parse(snippet: Snippet) -> ast.Module:
    """Parse a snippet; IPython-only lines are retried as ``pass`` outside ``.py`` files."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our business
        try:
            return ast.parse(snippet.code)
        except SyntaxError:
            if snippet.kind == "python":
                raise
            code = neutralise(snippet.code)
            if code == snippet.code:
                raise
            snippet.code = code
            return ast.parse(code)


@dataclass(frozen=True)
class DictView:
    """The string keys of a dict passed as ``**kwargs``: key -> (node to point at, value).

    ``complete`` says no other key can hide in it; ``inline`` that it is written in the
    call itself (so its keys can be pointed at and edited there).
    """

    items: dict[str, tuple[ast.AST, ast.expr]]
    complete: bool
    inline: bool


_READ_METHODS = frozenset({"get", "keys", "values", "items", "copy", "__contains__"})


def _read_only_use(node: ast.AST) -> ast.expr | None:
    """The name node that ``node`` uses without changing it: ``**d``, ``d[k]``, ``d.get``."""
    if isinstance(node, ast.keyword) and node.arg is None:
        return node.value
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
        return node.value
    if isinstance(node, ast.Attribute) and node.attr in _READ_METHODS:
        return node.value
    return None


@dataclass
class _Uses:
    loads: int = 0
    stores: int = 0
    read_only: int = 0


def name_uses(root: ast.AST) -> dict[str, _Uses]:
    """For every name below ``root``: how often it is bound, used, and used only to read."""
    uses: dict[str, _Uses] = {}
    read_only: list[ast.expr] = []
    for node in ast.walk(root):
        if isinstance(node, ast.Name):
            entry = uses.setdefault(node.id, _Uses())
            if isinstance(node.ctx, ast.Load):
                entry.loads += 1
            else:
                entry.stores += 1
        else:
            used = _read_only_use(node)
            if isinstance(used, ast.Name):
                read_only.append(used)
    for name in read_only:
        uses[name.id].read_only += 1  # type: ignore[attr-defined]
    return uses


def only_read(uses: dict[str, _Uses], name: str) -> bool:
    """``name`` is never changed nor handed to other code: every use is a ``**name``, a
    ``name[key]`` read or a read method; one plain binding at most."""
    entry = uses.get(name, _Uses())
    return entry.stores <= 1 and entry.loads == entry.read_only


class Context:
    """What a rule sees: name resolution, the current snippet, and ways to report."""

    def __init__(self, path: str, rules: Sequence[Rule]) -> None:
        self.path = path
        self.rules = rules
        self.diagnostics: list[Diagnostic] = []
        self.defined_functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = (
            defaultdict(list)
        )
        self.resolver = Resolver(self._visit)
        self.snippet: Snippet | None = None
        self._lines: list[str] | None = None
        self.call_name: str | None = None  # qualified name of the call being checked
        self.trees: list[ast.Module] = []  # every snippet's tree parsed so far
        self.sources: list[str] = []  # and its code
        # Facts rules derive from whole scopes, computed once per document and namespace.
        self.memo: dict[tuple, object] = {}
        self._by_type: dict[type, list[Rule]] = defaultdict(list)
        self._by_terminal: dict[str, list[Rule]] = defaultdict(list)
        self._by_keyword: dict[str, list[Rule]] = defaultdict(list)
        self._every_call: list[Rule] = []
        # Identifiers that make a line worth walking: every word a rule reads.
        self.hot_words = frozenset(
            word
            for rule in rules
            for word in (*(rule.terminals or ()), *rule.keywords, *rule.hot_words)
        )
        for rule in rules:
            for node_type in rule.node_types:
                if node_type is not ast.Call:
                    self._by_type[node_type].append(rule)
            if ast.Call in rule.node_types:
                if rule.terminals is None:
                    self._every_call.append(rule)
                for terminal in rule.terminals or ():
                    self._by_terminal[terminal].append(rule)
                for keyword in rule.keywords:
                    self._by_keyword[keyword].append(rule)

    # --- queries for rules ----------------------------------------------------
    def qualified_name(self, node: ast.AST) -> str | None:
        return self.resolver.qualified_name(node)

    def constant(self, node: ast.AST) -> object:
        return self.resolver.constant(node)

    def kwargs_view(self, node: ast.expr) -> DictView | None:
        """The keys a ``**node`` passes, if they can be seen; ``None`` when opaque."""
        if isinstance(node, ast.Dict):
            items = {
                key.value: (key, value)
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and isinstance(key.value, str)
            }
            return DictView(items, len(items) == len(node.keys), inline=True)
        if isinstance(node, ast.Call):
            if node.args or self.qualified_name(node.func) != "builtins.dict":
                return None
            items = {k.arg: (k, k.value) for k in node.keywords if k.arg is not None}
            return DictView(items, len(items) == len(node.keywords), inline=True)
        if not isinstance(node, ast.Name):
            return None
        value = self.resolver.local_value(node, module_too=True)
        if not isinstance(value, (ast.Dict, ast.Call)) or not self._untouched(node.id):
            return None
        view = self.kwargs_view(value)
        return None if view is None else DictView(view.items, view.complete, inline=False)

    def _untouched(self, name: str) -> bool:
        """Whether the dict bound to ``name`` is only read (never changed nor passed on)."""
        in_module = self.resolver.module_scope.bindings.get(name) is self.resolver.lookup(name)
        return self._only_read(name, in_module)

    def _only_read(self, name: str, in_module: bool) -> bool:
        function = self.resolver.enclosing_function()
        roots = self.trees if in_module or function is None else [function]
        # A function's table is final; the module's grows with each snippet (cell).
        key = ("uses", id(function)) if roots is not self.trees else ("uses", len(self.trees))
        if key not in self.memo:
            self.memo[key] = [name_uses(root) for root in roots]
        return all(only_read(table, name) for table in self.memo[key])  # type: ignore[attr-defined]

    def judged_where_unpacked(self, call: ast.Call) -> bool:
        """A ``dict(...)`` whose keywords a rule reads at its ``**`` instead: written inside
        a ``**``, or bound to a name of this scope that is only read afterwards."""
        parent = self.resolver.parent
        if isinstance(parent, ast.keyword):
            return parent.arg is None
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            return isinstance(target, ast.Name) and self._only_read(target.id, False)
        return False

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            assert self.snippet is not None
            self._lines = split_lines(self.snippet.code)
        return self._lines

    def segment(self, start: Position, end: Position) -> str:
        """Snippet text between two ``ast`` positions."""
        lines = self.lines
        (l1, c1), (l2, c2) = self._chars(start), self._chars(end)
        if l1 == l2:
            return lines[l1 - 1][c1:c2]
        parts = [lines[l1 - 1][c1:], *lines[l1 : l2 - 1], lines[l2 - 1][:c2]]
        return "\n".join(parts)

    def node_text(self, node: ast.AST) -> str:
        return self.segment(start_of(node), end_of(node))

    # --- reporting ------------------------------------------------------------
    def _chars(self, position: Position) -> tuple[int, int]:
        line, byte_col = position
        lines = self.lines
        text = lines[line - 1] if 0 < line <= len(lines) else ""
        return line, char_col(text, byte_col)

    def _original(self, position: Position) -> tuple[int, int]:
        assert self.snippet is not None
        return self.snippet.to_original(*self._chars(position))

    def edit(self, start: Position, end: Position, text: str) -> Edit:
        assert self.snippet is not None
        return Edit(self.snippet.unit, self._original(start), self._original(end), text)

    def report(
        self,
        rule: Rule,
        node: ast.AST,
        message: str,
        fix: tuple[str, Iterable[Edit]] | None = None,
        end_node: ast.AST | None = None,
    ) -> Diagnostic:
        assert self.snippet is not None
        line, col = self._original(start_of(node))
        end_line, end_col = self._original(end_of(end_node or node))
        made = None
        if fix is not None:
            description, edits = fix
            made = Fix(description, tuple(edits), safe=rule.fix_safety == "safe")
        unit = self.snippet.unit
        diagnostic = Diagnostic(
            self.path,
            rule.code,
            message,
            line,
            col + 1,
            end_line,
            end_col + 1,
            cell=None if unit is None else unit + 1,
            fix=made,
        )
        self.diagnostics.append(diagnostic)
        return diagnostic

    # --- walking --------------------------------------------------------------
    def _visit(self, node: ast.AST, _resolver: Resolver) -> None:
        node_type = type(node)
        if node_type is ast.Call:
            self._visit_call(node)  # type: ignore[arg-type]
        elif node_type is ast.FunctionDef or node_type is ast.AsyncFunctionDef:
            self.defined_functions[node.name].append(node)  # type: ignore[attr-defined]
        rules = self._by_type.get(node_type)
        if rules:
            for rule in rules:
                rule.check(node, self)

    def _visit_call(self, call: ast.Call) -> None:
        func = call.func
        name = self.resolver.qualified_name(func)
        self.call_name = name
        if name is not None:
            terminal = name.rpartition(".")[2]
        elif isinstance(func, ast.Attribute):
            terminal = func.attr
        elif isinstance(func, ast.Name):
            terminal = func.id
        else:
            terminal = ""
        chosen = list(self._every_call)
        chosen.extend(self._by_terminal.get(terminal, ()))
        for keyword in call.keywords:
            if keyword.arg is not None:
                chosen.extend(self._by_keyword.get(keyword.arg, ()))
            elif self._by_keyword:
                view = self.kwargs_view(keyword.value)
                for key in view.items if view is not None else ():
                    chosen.extend(self._by_keyword.get(key, ()))
        seen: set[int] = set()
        for rule in chosen:
            if id(rule) not in seen:
                seen.add(id(rule))
                rule.check(call, self)

    def run(self, snippets: Iterable[Snippet]) -> tuple[list[Note], int]:
        """Check every snippet; returns notes and the number that did not parse.

        A ``.py`` file's docstring examples are checked after it, each docstring in a
        namespace of its own (as doctest runs them), from the tree already parsed.
        """
        notes: list[Note] = []
        failures = 0
        for snippet in snippets:
            tree = self._check(snippet, notes)
            failures += tree is None
            if tree is None or snippet.kind != "python":
                continue
            for group in docstring_groups(tree, self.lines, tuple(self.hot_words)):
                with self._own_namespace():
                    for example in group:
                        _compose_origin(example, snippet)
                        failures += self._check(example, notes) is None
        for rule in self.rules:
            rule.finish(self)
        return notes, failures

    def _check(self, snippet: Snippet, notes: list[Note]) -> ast.Module | None:
        """Parse and walk one snippet; ``None`` (and a note) when it does not parse."""
        self.snippet, self._lines = snippet, None
        try:
            tree = parse(snippet)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            if snippet.declared:
                line = getattr(exc, "lineno", None) or 1
                original_line, _ = snippet.to_original(line, 0)
                reason = getattr(exc, "msg", None) or type(exc).__name__
                cell = None if snippet.unit is None else snippet.unit + 1
                message = f"{snippet.kind} does not parse ({reason}); skipped"
                notes.append(Note(self.path, original_line, message, cell, verbose=True))
            return None
        self.trees.append(tree)
        self.sources.append(snippet.code)
        self.resolver.hot_lines = hot_lines(snippet.code, self.hot_words)
        try:
            self.resolver.run(tree)
        except RecursionError:
            notes.append(Note(self.path, snippet.first_line, "code nested too deeply; skipped"))
        return tree

    @contextmanager
    def _own_namespace(self) -> Iterator[None]:
        saved = self.resolver, self.trees, self.sources, self.memo
        self.resolver, self.trees, self.sources, self.memo = Resolver(self._visit), [], [], {}
        try:
            yield
        finally:
            self.resolver, self.trees, self.sources, self.memo = saved


def _compose_origin(example: Snippet, container: Snippet) -> None:
    """Make ``example``'s positions (given in ``container``'s code) point into the file."""
    if container.origin is not None and example.origin is not None:
        example.origin = [container.to_original(line, col) for line, col in example.origin]
