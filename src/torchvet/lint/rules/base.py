"""The shape every rule has, and the helpers rules share for reading calls."""

from __future__ import annotations

import ast
import inspect
from typing import TYPE_CHECKING, ClassVar

from torchvet.lint.astutil import end_of, start_of

if TYPE_CHECKING:
    from torchvet.lint.checker import Context
    from torchvet.lint.model import Edit

# Every spelling of torch's loader once names are resolved.
TORCH_LOAD = frozenset({"torch.load", "torch.serialization.load"})
TORCH_SAVE = frozenset({"torch.save", "torch.serialization.save"})
# torch.load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None,
#            **pickle_load_args); the unpickler itself takes these four.
TORCH_LOAD_PARAMETERS = ("f", "map_location", "pickle_module", "weights_only", "mmap")
PICKLE_LOAD_ARGS = ("encoding", "errors", "fix_imports", "buffers")
KNOWN_KEYWORDS = frozenset(TORCH_LOAD_PARAMETERS + PICKLE_LOAD_ARGS)
UNKNOWN = NotImplemented


class Rule:
    """Base class; the docstring of each subclass is its documentation.

    A docstring has the sections ``## What it does``, ``## Why is this bad?``,
    ``## Example``, ``## Use instead`` and ``## Fix availability and safety``.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    summary: ClassVar[str]
    node_types: ClassVar[tuple[type[ast.AST], ...]] = (ast.Call,)
    # For calls: the last component of the (resolved) callee names this rule reads,
    # or ``None`` for every call; and keywords that make a call interesting anyway.
    terminals: ClassVar[frozenset[str] | None] = frozenset()
    keywords: ClassVar[frozenset[str]] = frozenset()
    # Other identifiers a rule's nodes hold (for rules on statements, not calls).
    hot_words: ClassVar[frozenset[str]] = frozenset()
    # How bad a finding is, the same in every output format: "error" when the code
    # fails or does not do what it says, "warning" for unsafe loading, "note" otherwise.
    level: ClassVar[str] = "warning"
    fix_availability: ClassVar[str] = "never"  # "always", "sometimes" or "never"
    fix_safety: ClassVar[str | None] = None  # "safe" or "unsafe" when a fix exists

    def check(self, node: ast.AST, ctx: Context) -> None:
        raise NotImplementedError

    def finish(self, ctx: Context) -> None:
        """Called once per document after every snippet was checked."""

    @classmethod
    def documentation(cls) -> str:
        return inspect.cleandoc(cls.__doc__ or "")


# --- reading calls -------------------------------------------------------------


def keyword_value(ctx: Context, call: ast.Call, name: str) -> tuple[ast.AST, ast.expr] | None:
    """``(node to point at, value)`` for ``name=value`` or a ``**kwargs`` whose keys are seen.

    A ``**{"name": value}`` written in the call points at its key; a dict literal bound
    to a name earlier (``kw = {...}; f(**kw)``) points at the ``**kw``.
    """
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword, keyword.value
        if keyword.arg is None:
            view = ctx.kwargs_view(keyword.value)
            if view is not None and name in view.items:
                pointer, value = view.items[name]
                return (pointer if view.inline else keyword), value
    return None


def argument(
    ctx: Context, call: ast.Call, name: str, position: int | None = None
) -> ast.expr | None:
    """The value passed for a parameter, by keyword or (before any ``*args``) by position."""
    found = keyword_value(ctx, call, name)
    if found is not None:
        return found[1]
    if position is not None:
        for index, arg in enumerate(call.args):
            if isinstance(arg, ast.Starred):
                return None
            if index == position:
                return arg
    return None


def has_opaque_kwargs(ctx: Context, call: ast.Call) -> bool:
    """``**kwargs`` whose keys cannot all be seen."""
    for keyword in call.keywords:
        if keyword.arg is None:
            view = ctx.kwargs_view(keyword.value)
            if view is None or not view.complete:
                return True
    return False


def is_false(ctx: Context, node: ast.AST) -> bool:
    value = ctx.constant(node)
    return value is False or (type(value) is int and value == 0)


def is_true(ctx: Context, node: ast.AST) -> bool:
    value = ctx.constant(node)
    return value is not UNKNOWN and value is not None and bool(value)


# --- building edits ------------------------------------------------------------


def _arguments_in_order(call: ast.Call) -> list[ast.AST]:
    items: list[ast.AST] = [*call.args, *call.keywords]
    return sorted(items, key=lambda n: (n.lineno, n.col_offset))  # type: ignore[attr-defined]


def remove_argument(ctx: Context, call: ast.Call, item: ast.AST) -> Edit | None:
    """Delete one argument and its separating comma; ``None`` if a comment is in the way."""
    items = _arguments_in_order(call)
    index = items.index(item)
    if index > 0:
        start, end = end_of(items[index - 1]), end_of(item)
    elif index + 1 < len(items):
        start, end = start_of(item), start_of(items[index + 1])
    else:
        start, end = start_of(item), end_of(item)
    if "#" in ctx.segment(start, end).replace(ctx.node_text(item), ""):
        return None
    return ctx.edit(start, end, "")


def append_argument(ctx: Context, call: ast.Call, text: str) -> Edit:
    """Insert ``text`` as the last argument of ``call``."""
    items = _arguments_in_order(call)
    if items:
        position = end_of(items[-1])
        return ctx.edit(position, position, ", " + text)
    line, col = end_of(call)
    return ctx.edit((line, col - 1), (line, col - 1), text)


def terminals_of(names: frozenset[str]) -> frozenset[str]:
    return frozenset(name.rpartition(".")[2] for name in names)


class CallRule(Rule):
    """Base for rules on calls (no docstring of its own): ``check_call`` sees the calls
    whose resolved name is in ``callees`` (every call its terminals or keywords select
    when None); ``terminals`` default to the callees' last components."""

    callees: ClassVar[frozenset[str] | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "callees" in cls.__dict__ and "terminals" not in cls.__dict__ and cls.callees:
            cls.terminals = terminals_of(cls.callees)

    def check(self, node: ast.AST, ctx: Context) -> None:
        assert isinstance(node, ast.Call)
        if self.callees is None or ctx.call_name in self.callees:
            self.check_call(node, ctx)

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        raise NotImplementedError


class UnsafeLoaderCall(CallRule):
    """Base for rules that flag calls to a known unpickling loader (no docstring of its own)."""

    advice: ClassVar[str]

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        if self.applies(call, ctx):
            ctx.report(self, call, f"`{ctx.call_name}` {self.advice}")

    def applies(self, call: ast.Call, ctx: Context) -> bool:
        return True
