"""Generate the exact names torchvet's inert catalog takes from installed libraries.

    python scripts/gen_inert.py            # writes src/torchvet/policy/data/inert-generated.json
    python scripts/gen_inert.py --check    # exit 1 if the shipped table drifted

The inert catalog holds exact names only (no ``module.*`` patterns: CPython resolves a
dotted global by walking attributes, so a pattern would also match
``numpy.dtypes.__loader__.set_data``). Lists that follow a library's release, such as
numpy's DType classes (the BUILD types of pickled dtypes), are read here from the
library itself and shipped as data, so the scanner never imports numpy.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated_file import write_or_check

DATA = Path(__file__).resolve().parents[1] / "src" / "torchvet" / "policy" / "data"
OUT = DATA / "inert-generated.json"


def numpy_dtype_classes() -> list[str]:
    """Every DType class numpy.dtypes exports (aliases included: torch checks identity)."""
    import numpy as np
    import numpy.dtypes

    return sorted(
        f"numpy.dtypes.{n}"
        for n in numpy.dtypes.__all__
        if isinstance(getattr(numpy.dtypes, n), type)
        and issubclass(getattr(numpy.dtypes, n), np.dtype)
    )


def build() -> dict:
    import numpy as np

    return {"numpy_version": np.__version__, "numpy_dtype_classes": numpy_dtype_classes()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped table")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1, sort_keys=True) + "\n"
    return write_or_check(OUT, text, args.check, "the installed libraries")


if __name__ == "__main__":
    raise SystemExit(main())
