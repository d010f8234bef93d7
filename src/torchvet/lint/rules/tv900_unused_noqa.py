from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import Rule

if TYPE_CHECKING:
    from torchvet.lint.checker import Context


class UnusedNoqa(Rule):
    """
    ## What it does
    Finds `# noqa: TV...` and `# torchvet: ignore[TV...]` codes that suppress nothing:
    codes of enabled rules with no finding on that line, and `TV` codes that name no
    rule at all (like Ruff's RUF100). Codes of other tools (`E501`, `S301`) and bare
    `# noqa` are left alone, and so are codes of rules not enabled in this run.

    Directives are read in comments of `.py` files and notebook cells; those in
    Markdown, reST and docstring examples are not judged.

    ## Why is this bad?
    A stale suppression hides the next real finding on that line, and a misspelt code
    (`# noqa: TV02`) suppresses nothing while looking as if it did.

    ## Example
    ```python
    state = torch.load(path, weights_only=True)  # noqa: TV002
    ```

    ## Use instead
    ```python
    state = torch.load(path, weights_only=True)
    ```

    ## Fix availability and safety
    Always available, and safe: the code is removed from the directive, and the whole
    comment when no code is left.
    """

    code = "TV900"
    name = "unused-noqa"
    summary = "`noqa` code that suppresses nothing, or names no rule"
    level = "note"
    node_types: tuple[type[ast.AST], ...] = ()  # judged by the engine, after suppression
    fix_availability = "always"
    fix_safety = "safe"

    def check(self, node: ast.AST, ctx: Context) -> None:  # pragma: no cover - no node types
        raise NotImplementedError
