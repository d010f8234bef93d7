from __future__ import annotations

from torchvet.lint.rules.base import UnsafeLoaderCall

TARGETS = frozenset({"pandas.read_pickle", "pandas.io.pickle.read_pickle"})


class PandasReadPickle(UnsafeLoaderCall):
    """
    ## What it does
    Finds `pandas.read_pickle`.

    ## Why is this bad?
    `read_pickle` is `pickle.load` with decompression: a crafted file runs code when
    read.

    ## Example
    ```python
    df = pd.read_pickle("table.pkl")
    ```

    ## Use instead
    ```python
    df = pd.read_parquet("table.parquet")
    ```

    ## Fix availability and safety
    No fix.
    """

    code = "TV104"
    name = "pandas-read-pickle"
    summary = "`pandas.read_pickle`"
    callees = TARGETS
    advice = "unpickles the file; use Parquet, Feather or CSV for data from elsewhere"
