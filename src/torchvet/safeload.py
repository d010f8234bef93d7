"""``torchvet.load``: scan first, then ``torch.load(weights_only=True)``, never less.

``torchvet.save``: ``torch.save`` that first warns about whatever would make the file
unloadable with ``weights_only=True``. torch is imported on first call only.
"""

from __future__ import annotations

import importlib
import os
import pickle
import sys
import warnings
from collections.abc import Iterable
from typing import Any

from torchvet.errors import UnsafeCheckpointError
from torchvet.results import Category, ScanResult, Verdict

_BLOCKING = (Category.INERT_GLOBAL, Category.UNKNOWN_GLOBAL, Category.GADGET)


class TorchvetSaveWarning(UserWarning):
    """``torchvet.save`` found something ``torch.load(weights_only=True)`` refuses."""


# ----------------------------------------------------------------------------- allow
def resolve_name(name: str) -> Any:
    """Import ``module.attr[.attr...]``: the user's explicit trust decision.

    Only plain attribute names are walked (no dunder or empty parts), and a name is
    imported in the spelling this environment has (``numpy.core`` or ``numpy._core``).
    """
    from torchvet.policy.catalog import importable_name
    from torchvet.policy.names import is_dunder

    parts = importable_name(name).split(".")
    if len(parts) < 2 or any(not p or is_dunder(p) for p in parts):
        raise ValueError(f"allow: {name!r} is not an exact module.name")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            with warnings.catch_warnings():  # numpy.core.* warns on numpy 2
                warnings.simplefilter("ignore", DeprecationWarning)
                obj: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ValueError(f"allow: cannot import {name!r}")


def allow_entries(allow: Iterable[Any]) -> tuple[list[tuple[Any, str]], list[str]]:
    """(``(obj, "pickled.name")`` pairs for torch, names for the scanner)."""
    from torchvet.policy.catalog import spellings

    pairs: list[tuple[Any, str]] = []
    names: list[str] = []
    for item in allow:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], str):
            obj, base = item
        elif isinstance(item, str):
            obj, base = resolve_name(item), item
        else:
            obj = item
            base = f"{getattr(item, '__module__', '')}.{getattr(item, '__qualname__', '')}"
        for spelled in spellings(base):
            pairs.append((obj, spelled))
            names.append(spelled)
    return pairs, names


# ----------------------------------------------------------------------------- load
def load(
    f: Any,
    *,
    map_location: Any = None,
    allow: Iterable[Any] = (),
    mmap: bool | None = None,
) -> Any:
    """``torch.load(f, weights_only=True)`` after a static scan agrees it is safe.

    ``allow``: globals to trust, as objects or ``"module.name"`` strings (imported).
    Raises ``UnsafeCheckpointError`` listing every blocking global and what would
    work; never falls back to ``weights_only=False``.
    """
    import torch

    from torchvet import sideeffects
    from torchvet.guarding import ensure_hook

    pairs, names = allow_entries(allow)
    # While torch loads, the audit hook refuses file writes, processes, network and code
    # (torchvet.sideeffects): allowed objects must not act on the machine.
    ensure_hook()
    if isinstance(f, (str, os.PathLike)) and os.fspath(f).endswith(".safetensors"):
        with sideeffects.loading(sys._getframe()):
            return torch.load(f, map_location=map_location, weights_only=True, mmap=mmap)
    result = _scan(f, tuple(names))
    if result.verdict is not Verdict.SAFE:
        raise refusal(result, names)
    try:
        with torch.serialization.safe_globals(pairs), sideeffects.loading(sys._getframe()):
            return torch.load(f, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"torch refused {result.path} although torchvet's scan found it safe "
            f"(please report this): {exc}",
            path=result.path,
            verdict=result.verdict.value,
        ) from exc


def _scan(f: Any, allow: tuple[str, ...]) -> ScanResult:
    from torchvet.policy.judge import Policy
    from torchvet.scan import scan_bytes, scan_file

    policy = Policy.for_torch(None, allow)
    if isinstance(f, (str, os.PathLike)):
        return scan_file(f, policy=policy)
    if isinstance(f, (bytes, bytearray, memoryview)):
        raise TypeError("torchvet.load takes a path or a binary file object, not bytes")
    pos = f.tell()
    data = f.read()
    f.seek(pos)
    name = getattr(f, "name", None)
    return scan_bytes(data, policy, name if isinstance(name, str) else "<file object>")


def refusal(result: ScanResult, allowed: Iterable[str] = ()) -> UnsafeCheckpointError:
    """The error for a refused file: every blocking global, the verdict, the remedy."""
    from torchvet.policy.snippet import allowlist_code

    path = result.path
    blocking: list[str] = []
    for finding in result.findings:
        name = finding.global_name
        if finding.category in _BLOCKING and name and name not in blocking:
            blocking.append(name)
    lines = [f"torchvet refused to load {path}: verdict {result.verdict.value}."]
    if blocking:
        lines.append("Blocking globals (all of them, in file order):")
        for finding in result.findings:
            if finding.category in _BLOCKING and finding.global_name:
                lines.append(f"  - {finding.message}")
    else:
        problems = [f.message for f in result.findings if f.category is not Category.NOTE]
        lines += [f"  - {m}" for m in problems[:10]]
    from torchvet.converter.advice import convert_command

    convert_cmd = convert_command(path)  # None unless convert accepts the file
    remedy = ""
    if result.verdict is Verdict.NEEDS_ALLOWLIST:
        names = list(allowed) + [n for n in result.allowlist if n not in allowed]
        remedy = f"torchvet.load({path!r}, allow={names!r})"
        lines += [
            "Every blocking global is inert data. If you trust the file, either:",
            f"  {remedy}",
            "or, with torch alone:",
            *("  " + line for line in allowlist_code(result.allowlist, path).splitlines()),
        ]
        if convert_cmd:
            lines.append(f"or extract the tensors: {convert_cmd}")
    elif result.verdict is Verdict.DANGEROUS:
        remedy = "do not load this file"
        lines.append("It names code-execution gadgets: do not load it, do not allowlist them.")
    elif result.verdict in (Verdict.UNKNOWN, Verdict.UNSUPPORTED):
        remedy = convert_cmd or "review what the file names before loading it"
        if convert_cmd:
            lines.append(f"Extract the tensors without running anything: {convert_cmd}")
        if blocking:
            lines.append(
                "Allowlisting these names runs their code at load time; do it only if you "
                f"trust the code: torchvet.load({path!r}, allow={blocking!r})"
            )
    else:
        remedy = "the file cannot be loaded as it is"
    return UnsafeCheckpointError(
        "\n".join(lines),
        path=path,
        verdict=result.verdict.value,
        blocking=blocking,
        allowlist=result.allowlist,
        remedy=remedy,
    )


# ----------------------------------------------------------------------------- save
def save(obj: Any, f: Any, **kwargs: Any) -> None:
    """``torch.save`` that warns first about what ``weights_only=True`` would refuse."""
    import torch

    problems = list(weights_only_problems(obj))
    protocol = kwargs.get("pickle_protocol", 2)
    if isinstance(protocol, int) and protocol >= 3:
        problems.append(
            (
                "<file>",
                f"pickle_protocol={protocol}",
                "weights_only=True reads protocol 2 only (opcodes of protocol >= 3 are refused); "
                "drop pickle_protocol",
            )
        )
    if problems:
        lines = [f"  {path}: {what} -> {fix}" for path, what, fix in problems[:20]]
        warnings.warn(
            "torchvet.save: this file will not load with torch.load(weights_only=True):\n"
            + "\n".join(lines),
            TorchvetSaveWarning,
            stacklevel=2,
        )
    torch.save(obj, f, **kwargs)


def weights_only_problems(obj: Any, path: str = "", depth: int = 0, seen: set | None = None):
    """(path, what, fix) for values weights_only refuses, found by walking ``obj``."""
    import torch

    seen = set() if seen is None else seen
    if depth > 100 or id(obj) in seen:
        return
    t = type(obj)
    where = path or "<root>"
    if t in (str, bytes, int, float, bool, complex, type(None), bytearray):
        return
    if isinstance(obj, torch.Tensor):
        if t not in (torch.Tensor, torch.nn.Parameter) and not isinstance(obj, torch.nn.Buffer):
            yield where, f"tensor subclass {t.__qualname__}", "save obj.as_subclass(torch.Tensor)"
        return
    if isinstance(obj, (torch.dtype, torch.device, torch.Size, torch.layout)):
        return
    if isinstance(obj, torch.storage.TypedStorage | torch.UntypedStorage):
        return
    seen.add(id(obj))
    mod = t.__module__ or ""
    if mod.split(".")[0] == "numpy":
        yield (
            where,
            f"numpy {t.__name__}",
            "convert with torch.from_numpy(x) or x.item()/x.tolist()",
        )
        return
    if t.__name__ == "TorchVersion":
        yield where, "torch.__version__ (TorchVersion)", "save str(torch.__version__)"
        return
    if isinstance(obj, torch.nn.Module):
        yield where, f"a whole module ({mod}.{t.__qualname__})", "save module.state_dict()"
        return
    if t.__module__ == "argparse" and t.__name__ == "Namespace":
        yield where, "argparse.Namespace", "save vars(args)"
        return
    if mod.startswith("omegaconf"):
        yield where, f"OmegaConf {t.__name__}", "save OmegaConf.to_container(cfg, resolve=True)"
        return
    if t is dict or (t.__qualname__ in ("OrderedDict", "Counter") and mod == "collections"):
        for k, v in obj.items():
            yield from weights_only_problems(k, f"{where}[key {k!r}]", depth + 1, seen)
            yield from weights_only_problems(v, _join(path, k), depth + 1, seen)
        return
    if t in (list, tuple, set):
        for i, v in enumerate(obj):
            yield from weights_only_problems(v, _join(path, i), depth + 1, seen)
        return
    fix = "convert it to plain dicts/lists/numbers/tensors"
    if isinstance(obj, dict):
        fix = "save dict(obj)"
    elif isinstance(obj, tuple):
        fix = "save tuple(obj) (namedtuples are classes)"
    yield where, f"{mod}.{t.__qualname__}", fix


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
