"""Which global each real loader resolves first in a file, asked of the loader itself.

One long-lived child process runs every (loader, file) pair under an audit hook on
``pickle.find_class``: the hook records the name and raises, so the loader stops before
anything it names is imported or called. This is the loaders' own view of a file, with
the payload refused at the door.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

# Each loader reads `path` the way a user would call it.
_CHILD = r"""
import json, sys, warnings
warnings.simplefilter("ignore")

class Refused(Exception):
    pass

seen = []

def hook(event, args):
    if event == "pickle.find_class" and hook.armed:
        seen.append([str(args[0]), str(args[1])])
        raise Refused(f"{args[0]}.{args[1]}")

hook.armed = False
sys.addaudithook(hook)

def pickle_loop(path):
    import pickle
    with open(path, "rb") as f:
        while True:
            try:
                pickle.load(f)
            except EOFError:
                return

def numpy_load(path):
    import numpy as np
    data = np.load(path, allow_pickle=True)
    if hasattr(data, "files"):
        for key in data.files:
            data[key]

def pandas_load(path):
    import pandas as pd
    pd.read_pickle(path)

def joblib_load(path):
    import joblib
    joblib.load(path)

def torch_unsafe(path):
    import torch
    torch.load(path, weights_only=False)

def pickle_once(path):
    import pickle
    with open(path, "rb") as f:
        pickle.load(f)

LOADERS = {
    "pickle": pickle_once, "pickle-loop": pickle_loop, "numpy": numpy_load,
    "pandas": pandas_load, "joblib": joblib_load, "torch": torch_unsafe,
}
import numpy, pandas, joblib, torch  # imported before the hook is armed
for line in sys.stdin:
    out = []
    for loader, path in json.loads(line):
        seen.clear()
        hook.armed = True
        try:
            LOADERS[loader](path)
            error = None
        except BaseException as exc:
            error = type(exc).__name__
        hook.armed = False
        out.append({"resolved": seen[:1], "error": error})
    print(json.dumps(out), flush=True)
"""


_child: subprocess.Popen[str] | None = None


def _loader_process() -> subprocess.Popen[str]:
    """One child for the whole test session: torch, numpy, pandas and joblib import once."""
    global _child
    if _child is None or _child.poll() is not None:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        _child = subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        atexit.register(_child.kill)
    return _child


def first_globals(pairs: Sequence[tuple[str, Path]]) -> list[str | None]:
    """For each (loader, path): the first ``module.name`` the loader tries to resolve."""
    child = _loader_process()
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(json.dumps([[loader, str(path)] for loader, path in pairs]) + "\n")
    child.stdin.flush()
    line = child.stdout.readline()
    if not line:
        raise RuntimeError("the loader process died")
    return [".".join(r["resolved"][0]) if r["resolved"] else None for r in json.loads(line)]
