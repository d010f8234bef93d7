from __future__ import annotations

from torchvet.lint.rules.base import terminals_of
from torchvet.lint.rules.pickling import PickleLoaderRule

_NAMES = ("load", "loads", "Unpickler", "_load", "_loads", "_Unpickler")
TARGETS = frozenset(
    f"{module}.{name}" for module in ("pickle", "_pickle", "cPickle") for name in _NAMES
)


class PickleLoad(PickleLoaderRule):
    """
    ## What it does
    Finds `pickle.load`, `pickle.loads` and `pickle.Unpickler` (also from `_pickle`
    and `cPickle`, and imported under any name), and subclasses of `pickle.Unpickler`
    whose `find_class` falls back to the default one (none defined, or one that ends in
    `super().find_class(...)` without ever raising).

    A round trip is not flagged: `pickle.loads(pickle.dumps(x))`, or bytes bound by
    `data = pickle.dumps(obj)` (also `dill`/`cloudpickle`, or an `io.BytesIO` of them)
    and loaded in the same function, were made by the program from its own objects.

    ## Why is this bad?
    Unpickling calls whatever callables the data names: a pickle from an untrusted
    source runs arbitrary code. Model weights, caches and datasets are often shared
    this way.

    ## Example
    ```python
    with open("features.pkl", "rb") as f:
        features = pickle.load(f)
    ```

    ## Use instead
    Store data in a format that cannot carry code (safetensors, JSON, `.npy` without
    pickles), or load only data you produced yourself. An unpickler that must read
    foreign files refuses every global outside an allowlist:
    ```python
    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) in ALLOWED:
                return super().find_class(module, name)
            raise pickle.UnpicklingError(f"global {module}.{name} is forbidden")
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV101"
    name = "pickle-load"
    summary = "`pickle` load of possibly untrusted data"
    targets = TARGETS
    terminals = terminals_of(TARGETS)
    unpicklers = frozenset(f"{m}.Unpickler" for m in ("pickle", "_pickle", "cPickle"))
    advice = "runs code named by the data; load only trusted files, or use safetensors/JSON"
