from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import CallRule, argument, is_true, keyword_value
from torchvet.lint.rules.localdirs import saved_here_into_temp_dir

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

PIPELINES = frozenset({"transformers.pipeline"})
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}")
# Where loaders take the repository or folder to read.
_SOURCE_KEYWORDS = ("pretrained_model_name_or_path", "model", "path", "repo_id")


def is_pretrained_loader(ctx: Context, call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
        return True
    return ctx.call_name in PIPELINES


def is_pinned_commit(value: object) -> bool:
    return isinstance(value, str) and _COMMIT_SHA.fullmatch(value) is not None


class TrustRemoteCode(CallRule):
    """
    ## What it does
    Finds `trust_remote_code=True` in any call: `from_pretrained`, `from_config`,
    `pipeline`, `datasets.load_dataset`, diffusers' `ComponentSpec.load`, or any other
    (the keyword is the hazard), also through a `**kwargs` dict.

    Two cases are left alone: a `revision=` pinned to a full 40-hex commit SHA (a
    literal, or a constant bound to one), and a source folder that is a temporary
    directory the same function created (`tempfile.TemporaryDirectory()`,
    `tempfile.mkdtemp()`, pytest's `tmp_path`) and saved into, since nothing is
    downloaded. `revision=None`, `"main"`, a tag or a variable pin nothing.

    ## Why is this bad?
    `trust_remote_code=True` downloads Python modules from the model repository and
    imports them. Whoever can push to that repository (or to a repository name you
    mistype) runs code on your machine, at every new revision.

    ## Example
    ```python
    model = AutoModel.from_pretrained("org/model", trust_remote_code=True, revision="main")
    ```

    ## Use instead
    Use a model whose architecture ships with the library, or pin a reviewed commit:
    ```python
    model = AutoModel.from_pretrained(
        "org/model", trust_remote_code=True, revision="3f2a1c9d0b7e4f5a6c8d9e0f1a2b3c4d5e6f7a8b"
    )
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV107"
    name = "trust-remote-code"
    summary = "`trust_remote_code=True` imports code from a model repository"
    keywords = frozenset({"trust_remote_code"})

    def check_call(self, call: ast.Call, ctx: Context) -> None:
        if ctx.call_name == "builtins.dict" and ctx.judged_where_unpacked(call):
            return
        found = keyword_value(ctx, call, "trust_remote_code")
        if found is None or not is_true(ctx, found[1]):
            return
        revision = keyword_value(ctx, call, "revision")
        if revision is not None and is_pinned_commit(ctx.constant(revision[1])):
            return  # pinned to a commit someone can review
        if saved_here_into_temp_dir(ctx, _source(ctx, call)):
            return  # a folder this function just wrote: nothing is downloaded
        head = "`trust_remote_code=True` imports Python code from the model repository"
        if revision is None:
            advice = "use a built-in architecture or pin a reviewed commit with `revision=` (a 40-hex SHA)"
        else:
            advice = "this `revision=` is not a 40-hex commit SHA, so that code can change: pin one"
        ctx.report(self, found[0], f"{head}; {advice}")


def _source(ctx: Context, call: ast.Call) -> ast.expr | None:
    if call.args:
        return call.args[0]
    values = (argument(ctx, call, keyword) for keyword in _SOURCE_KEYWORDS)
    return next((value for value in values if value is not None), None)
