from __future__ import annotations

from torchvet.lint.rules.base import UnsafeLoaderCall

TARGETS = frozenset({"joblib.load", "sklearn.externals.joblib.load"})


class JoblibLoad(UnsafeLoaderCall):
    """
    ## What it does
    Finds `joblib.load`.

    ## Why is this bad?
    joblib files are pickles (with numpy arrays stored beside them): loading one
    runs any code its author embedded. scikit-learn models are commonly shared this
    way.

    ## Example
    ```python
    clf = joblib.load("model.joblib")
    ```

    ## Use instead
    Load only files from a trusted source, or use a format without code such as
    `skops.io` (with its type allowlist) or ONNX.

    ## Fix availability and safety
    No fix.
    """

    code = "TV103"
    name = "joblib-load"
    summary = "`joblib.load` of a pickle"
    callees = TARGETS
    advice = "unpickles the file and runs any code it names; load only trusted files"
