"""The oracle process: load each source with the library that wrote it (pickles run here,
never in the test process) and compare its tensors, bit for bit, with what torchvet wrote.

Usage: python -m tests.converter.real_oracle REQUESTS.json -> one JSON line per request:
{"id", "ok", "detail"}. A request: id, source, loader, select, output, aliases, skipped.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any


def load_expected(loader: str, path: str, select: list[str]) -> dict[str, Any]:
    import torch

    from tests.converter.oracle import flatten

    if loader == "torch":
        obj = torch.load(path, weights_only=False, map_location="cpu")
    elif loader == "jit":
        obj = torch.jit.load(path, map_location="cpu").state_dict()
    elif loader == "export":
        ep = torch.export.load(path)
        obj = {**ep.state_dict, **{k: v for k, v in ep.constants.items() if torch.is_tensor(v)}}
    elif loader == "joblib":
        import joblib

        obj = joblib.load(path)
    elif loader == "numpy":
        import numpy as np

        loaded = np.load(path, allow_pickle=False)
        obj = dict(loaded) if hasattr(loaded, "files") else loaded
    else:
        raise ValueError(loader)
    for key in select:
        obj = obj[key]
    found = flatten(obj)
    if "" in found:  # a lone tensor or array: convert names it "tensor"
        found["tensor"] = found.pop("")
    return found


def compare(req: dict[str, Any]) -> tuple[bool, str]:
    from safetensors.torch import load_file

    from tests.converter.oracle import same

    expected = load_expected(req["loader"], req["source"], req["select"])
    got = load_file(req["output"])
    aliases, skipped = req["aliases"], set(req["skipped"])
    names = set(got) | set(aliases) | skipped
    if names != set(expected):
        return False, f"names differ: only converted {sorted(names - set(expected))}, " + (
            f"only loaded {sorted(set(expected) - names)}"
        )
    bad = [n for n, t in got.items() if not same(t, expected[n])]
    bad += [a for a, kept in aliases.items() if not same(got[kept], expected[a])]
    return not bad, f"values differ: {bad}" if bad else f"{len(got)} tensors identical"


def main() -> None:
    warnings.simplefilter("ignore")
    with open(sys.argv[1], encoding="utf-8") as f:
        requests = json.load(f)
    for req in requests:
        try:
            ok, detail = compare(req)
        except Exception as exc:  # report, keep going
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        print(json.dumps({"id": req["id"], "ok": ok, "detail": detail}), flush=True)


if __name__ == "__main__":
    main()
