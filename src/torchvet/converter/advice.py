"""The one place that decides whether to tell a user "run torchvet convert ...".

A command is suggested only when ``convert``'s own planner (which reads no tensor bytes
and writes nothing) accepts it on that file with exactly the options the command
spells out. Files of a torch.distributed.checkpoint folder get the folder's command.
The scan report, ``torchvet.load``'s refusal and the JSON report all print this.
"""

from __future__ import annotations

import os
import shlex

from torchvet.converter.core import ConvertError, PlanOptions, decide, open_for_conversion

# Options tried in order: the plain command first, then what lets it go through.
_ATTEMPTS: tuple[tuple[tuple[str, ...], PlanOptions], ...] = (
    ((), PlanOptions()),
    (("--skip-unsupported",), PlanOptions(skip_unsupported=True)),
    (("--include", "all"), PlanOptions(include=("all",))),
)


def convert_command(path: str) -> str | None:
    """``torchvet convert IN OUT [options]`` that succeeds on ``path`` (a local file or
    DCP folder), or None when no such command exists."""
    target = _target(path)
    if target is None:
        return None
    try:
        with open_for_conversion(target) as source:  # scanned once, planned per attempt
            for flags, options in _ATTEMPTS:
                try:
                    decide(source, options)
                except ConvertError:
                    continue
                return shlex.join(["torchvet", "convert", target, output_name(target), *flags])
    except ConvertError:
        return None
    except Exception:  # advice must never turn a report into a crash
        if os.environ.get("TORCHVET_DEBUG"):
            raise
    return None


def _target(path: str) -> str | None:
    """What to convert: the file itself, or the DCP folder it belongs to."""
    if not os.path.exists(path):
        return None  # remote, or a file object: nothing the command could open
    if os.path.isdir(path):
        return path
    from torchvet.containers.dcp import dcp_folder

    folder = dcp_folder(path)
    return folder if folder is not None else path


def output_name(target: str) -> str:
    """A safetensors path beside ``target`` that does not exist yet."""
    base = target.rstrip(os.sep) if os.path.isdir(target) else os.path.splitext(target)[0]
    candidate = base + ".safetensors"
    n = 1
    while os.path.exists(candidate):
        candidate = f"{base}.converted{'' if n == 1 else n}.safetensors"
        n += 1
    return candidate
