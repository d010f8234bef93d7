from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.model import Diagnostic
from torchvet.lint.rules.base import (
    TORCH_LOAD,
    CallRule,
    append_argument,
    keyword_value,
    remove_argument,
)

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

MISPLACED = ("weights_only", "map_location", "mmap", "pickle_module")


class MisplacedLoadKeyword(CallRule):
    """
    ## What it does
    Finds a `torch.load`-only keyword (`weights_only`, `map_location`, `mmap`,
    `pickle_module`) passed to `load_state_dict` of a module, optimizer, scheduler
    or any other object.

    ## Why is this bad?
    `load_state_dict` has no such parameter: the call raises `TypeError`, and the
    keyword never reaches `torch.load`, which is where it protects you. PyTorch's own
    saving-and-loading tutorial shipped this exact line in a code block nobody ran.

    A `load_state_dict` defined in the same file that accepts the keyword (as timm's
    does) is respected, and keywords hidden in `**kwargs` are not guessed at.

    ## Example
    ```python
    model.load_state_dict(torch.load(PATH), weights_only=True)
    ```

    ## Use instead
    ```python
    model.load_state_dict(torch.load(PATH, weights_only=True))
    ```

    ## Fix availability and safety
    Sometimes available, and safe: when the state dict is a `torch.load(...)` call
    written in place, the keyword is moved into it. Otherwise the message says where
    the keyword belongs.
    """

    code = "TV001"
    name = "misplaced-load-keyword"
    summary = "`torch.load` keyword passed to `load_state_dict`"
    level = "error"
    terminals = frozenset({"load_state_dict"})
    fix_availability = "sometimes"
    fix_safety = "safe"

    def __init__(self) -> None:
        self.pending: list[tuple[Diagnostic, str]] = []

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        if not isinstance(call.func, ast.Attribute) or call.func.attr != "load_state_dict":
            return  # a bare `load_state_dict(...)` is some project's own function
        receiver = ctx.qualified_name(call.func.value)
        if receiver is not None and not receiver.startswith("torch."):
            return  # `helpers.load_state_dict(...)`: a module function, not a method
        for keyword_name in MISPLACED:
            found = keyword_value(ctx, call, keyword_name)
            if found is None:
                continue
            pointer, value = found
            message, fix = self._advice(ctx, call, keyword_name, pointer, value)
            diagnostic = ctx.report(self, pointer, message, fix)
            self.pending.append((diagnostic, keyword_name))

    def _advice(self, ctx: Context, call: ast.Call, name: str, pointer: ast.AST, value: ast.expr):
        head = f"`{name}` is a `torch.load` keyword; `load_state_dict` raises TypeError on it"
        source = call.args[0] if call.args else None
        if source is None:
            found = keyword_value(ctx, call, "state_dict")
            source = found[1] if found else None
        if isinstance(source, ast.Call) and ctx.qualified_name(source.func) in TORCH_LOAD:
            message = f"{head}: move it into the `torch.load(...)` call"
            if not isinstance(pointer, ast.keyword) or pointer.arg != name:
                return message, None  # inside a `**{...}`: no edit is simple enough
            text = f"{name}={ctx.node_text(value)}"
            if "\n" in text:
                return message, None
            removal = remove_argument(ctx, call, pointer)
            if removal is None:
                return message, None
            existing = keyword_value(ctx, source, name)
            if existing is None:
                edits = [append_argument(ctx, source, text), removal]
            elif ctx.node_text(existing[1]) == ctx.node_text(value):
                edits = [removal]  # already there: only the misplaced copy goes
            else:
                return f"{head}, and `torch.load` already has a different `{name}`", None
            return message, (f"Move `{text}` into `torch.load(...)`", edits)
        if isinstance(source, ast.Name):
            return f"{head}: pass it to the `torch.load(...)` that produced `{source.id}`", None
        return f"{head}: pass it to the `torch.load(...)` that reads the checkpoint", None

    def finish(self, ctx: Context) -> None:
        accepted = {
            name for name in MISPLACED if _file_defines_accepting(ctx, "load_state_dict", name)
        }
        if not accepted:
            return
        withdrawn = {id(d) for d, name in self.pending if name in accepted}
        ctx.diagnostics[:] = [d for d in ctx.diagnostics if id(d) not in withdrawn]


def _file_defines_accepting(ctx: Context, function: str, parameter: str) -> bool:
    for definition in ctx.defined_functions.get(function, ()):
        args = definition.args
        names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        if parameter in names or args.kwarg is not None:
            return True
    return False
