"""Name resolution: imports, aliases, scopes and rebinding, as rules see them."""

from __future__ import annotations

import ast

import pytest

from torchvet.lint.resolve import Resolver


def names_of_calls(code: str) -> list[str | None]:
    """Qualified name of every call's callee, in walk order."""
    seen: list[str | None] = []

    def visit(node: ast.AST, resolver: Resolver) -> None:
        if isinstance(node, ast.Call):
            seen.append(resolver.qualified_name(node.func))

    Resolver(visit).run(ast.parse(code))
    return seen


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import torch\ntorch.load(p)", "torch.load"),
        ("import torch as T\nT.load(p)", "torch.load"),
        ("from torch import load as tl\ntl(p)", "torch.load"),
        ("import torch.serialization\ntorch.serialization.load(p)", "torch.serialization.load"),
        ("import torch.serialization as ser\nser.load(p)", "torch.serialization.load"),
        ("from torch import serialization\nserialization.load(p)", "torch.serialization.load"),
        ("torch.load(p)", "torch.load"),  # unbound well-known module (doc snippets)
        ("getattr(a, b)", "builtins.getattr"),
        ("from . import torch\ntorch.load(p)", "..torch.load"),
        ("load = make()\nload(p)", None),
        ("import torch\ntorch = other\ntorch.load(p)", None),
        ("self.model.load_state_dict(sd)", None),
    ],
)
def test_module_level(code: str, expected: str | None) -> None:
    assert names_of_calls(code)[-1] == expected


def test_function_bodies_see_imports_made_later_in_the_module() -> None:
    code = "def f():\n    return T.load(p)\nimport torch as T\n"
    assert names_of_calls(code) == ["torch.load"]


def test_parameters_shadow_modules() -> None:
    assert names_of_calls("import torch\ndef f(torch):\n    torch.load(p)\n") == [None]


def test_class_scope_is_not_visible_in_methods() -> None:
    code = (
        "import torch\n"
        "class A:\n"
        "    torch = None\n"
        "    torch.load(p)\n"
        "    def m(self):\n"
        "        torch.load(p)\n"
    )
    assert names_of_calls(code) == [None, "torch.load"]


def test_comprehension_targets_are_local() -> None:
    code = "import pickle\nxs = [pickle.loads(b) for pickle in things]\npickle.loads(b)\n"
    assert names_of_calls(code) == [None, "pickle.loads"]


def test_module_constants_resolve_only_when_bound_once() -> None:
    values = []

    def visit(node: ast.AST, resolver: Resolver) -> None:
        if isinstance(node, ast.Call):
            values.append(resolver.constant(node.keywords[0].value))

    Resolver(visit).run(ast.parse("A = False\nB = 1\nB = 2\nf(x=A)\nf(x=B)\nf(x=C)\n"))
    assert values == [False, NotImplemented, NotImplemented]


def test_cold_statements_still_bind_names() -> None:
    seen = []

    def visit(node: ast.AST, resolver: Resolver) -> None:
        if isinstance(node, ast.Call):
            seen.append(resolver.qualified_name(node.func))

    code = "try:\n    import torch as T\nexcept ImportError:\n    pass\nx = 1\nT.load(p)\n"
    resolver = Resolver(visit)
    resolver.hot_lines = [6]
    resolver.run(ast.parse(code))
    assert seen == ["torch.load"]
