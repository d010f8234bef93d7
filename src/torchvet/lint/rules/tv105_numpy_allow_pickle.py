from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from torchvet.lint.rules.base import UnsafeLoaderCall, argument, is_true

if TYPE_CHECKING:
    from torchvet.lint.checker import Context

TARGETS = frozenset({"numpy.load"})


class NumpyAllowPickle(UnsafeLoaderCall):
    """
    ## What it does
    Finds `numpy.load(..., allow_pickle=True)`.

    ## Why is this bad?
    With `allow_pickle=True`, object arrays in `.npy`/`.npz` files are unpickled, so
    the file can run code. The default (`False`) has been the safe choice since
    numpy 1.16.3.

    ## Example
    ```python
    data = np.load("arrays.npz", allow_pickle=True)
    ```

    ## Use instead
    ```python
    data = np.load("arrays.npz")
    ```

    ## Fix availability and safety
    No fix: files with object arrays stop loading without it.
    """

    code = "TV105"
    name = "numpy-allow-pickle"
    summary = "`numpy.load` with `allow_pickle=True`"
    callees = TARGETS
    terminals = frozenset({"load"})
    advice = "with `allow_pickle=True` unpickles object arrays; drop it for untrusted files"

    def applies(self, call: ast.Call, ctx: Context) -> bool:
        value = argument(ctx, call, "allow_pickle", 2)
        return value is not None and is_true(ctx, value)
