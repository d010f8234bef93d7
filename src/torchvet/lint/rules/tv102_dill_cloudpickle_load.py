from __future__ import annotations

from torchvet.lint.rules.base import UnsafeLoaderCall, terminals_of

TARGETS = frozenset(
    f"{module}.{name}"
    for module in ("dill", "cloudpickle")
    for name in ("load", "loads", "Unpickler", "load_session", "load_module")
)


class DillCloudpickleLoad(UnsafeLoaderCall):
    """
    ## What it does
    Finds loads through `dill` and `cloudpickle` (`load`, `loads`, `Unpickler`,
    `dill.load_session`).

    ## Why is this bad?
    Both extend pickle to serialise code itself (functions, lambdas, whole
    sessions); loading their output runs that code. They are even less safe than
    `pickle` on untrusted input.

    ## Example
    ```python
    model_fn = dill.load(open("model_fn.pkl", "rb"))
    ```

    ## Use instead
    Ship code as code (a package or module) and data as safetensors or JSON.

    ## Fix availability and safety
    No fix.
    """

    code = "TV102"
    name = "dill-cloudpickle-load"
    summary = "`dill` / `cloudpickle` load"
    targets = TARGETS
    terminals = terminals_of(TARGETS)
    advice = "deserialises code as well as data; load only files you produced yourself"
