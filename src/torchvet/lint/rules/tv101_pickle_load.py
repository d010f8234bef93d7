from __future__ import annotations

from torchvet.lint.rules.base import UnsafeLoaderCall, terminals_of

_NAMES = ("load", "loads", "Unpickler", "_load", "_loads", "_Unpickler")
TARGETS = frozenset(
    f"{module}.{name}" for module in ("pickle", "_pickle", "cPickle") for name in _NAMES
)


class PickleLoad(UnsafeLoaderCall):
    """
    ## What it does
    Finds `pickle.load`, `pickle.loads` and `pickle.Unpickler` (also from `_pickle`
    and `cPickle`, and imported under any name).

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
    pickles), or load only data you produced yourself.

    ## Fix availability and safety
    No fix.
    """

    code = "TV101"
    name = "pickle-load"
    summary = "`pickle` load of possibly untrusted data"
    targets = TARGETS
    terminals = terminals_of(TARGETS)
    advice = "runs code named by the data; load only trusted files, or use safetensors/JSON"
