from __future__ import annotations

from torchvet.lint.rules.base import terminals_of
from torchvet.lint.rules.pickling import PickleLoaderRule

TARGETS = frozenset(
    f"{module}.{name}"
    for module in ("dill", "cloudpickle")
    for name in ("load", "loads", "Unpickler", "load_session", "load_module")
)


class DillCloudpickleLoad(PickleLoaderRule):
    """
    ## What it does
    Finds loads through `dill` and `cloudpickle` (`load`, `loads`, `Unpickler`,
    `dill.load_session`), and subclasses of `dill.Unpickler` whose `find_class` falls
    back to the default. Round trips (`dill.loads(dill.dumps(f))`, or bytes dumped in
    the same function, by any of pickle, dill or cloudpickle) are not flagged.

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
    unpicklers = frozenset({"dill.Unpickler", "cloudpickle.Unpickler"})
    advice = "deserialises code as well as data; load only files you produced yourself"
