"""Facts about one torch release, read from the table ``scripts/gen_torch_policy.py``
generates from torch itself (``policy/data/torch-<version>.json``): its allowlist, name
mappings and dtypes, and what its weights-only unpickler does by hand (the opcodes it
implements, the types BUILD, SETITEM and APPEND accept, its error messages)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.metadata import PackageNotFoundError, version


@dataclass(frozen=True)
class DType:
    name: str  # "torch.float32"
    itemsize: int
    floating: bool
    complex: bool
    quantized: bool

    @property
    def can_require_grad(self) -> bool:
        return self.floating or self.complex


@dataclass(frozen=True)
class TorchFacts:
    version: str
    allowed: dict[str, str]  # allowlisted name -> kind (class, function, dtype, ...)
    user_allowed_after_import: frozenset[str]
    blocked_modules: frozenset[str]
    # Names refused until a module is imported (NJTs, DTensors) -> torch's message.
    must_import: dict[str, str]
    name_mapping: dict[tuple[str, str], tuple[str, str]]
    import_mapping: dict[str, str]
    dtypes: dict[str, DType]
    storage_types: dict[str, str]  # "torch.FloatStorage" -> "torch.float32"
    layouts: frozenset[str]
    device_types: frozenset[str]
    parameter_attributes: frozenset[str]
    # What torch's weights-only unpickler does by hand (read from its source):
    weights_only_opcodes: frozenset[str]  # the opcodes it implements; others fail
    build_types: frozenset[str]  # runtime types its BUILD handles itself
    setitem_types: frozenset[str]  # exact types SETITEM(S) accept
    append_types: frozenset[str]  # exact types APPEND(S) accept
    messages: dict[str, str]  # its error messages, as str.format templates

    def message(self, key: str, **fields: object) -> str:
        """torch's error message ``key`` (``messages``) with its fields filled in."""
        return self.messages[key].format(**fields)


def class_repr(name: str | None) -> str:
    """A class as ``repr(type)`` prints it in torch's messages: ``<class 'list'>`` for a
    builtin, ``<class 'collections.OrderedDict'>`` otherwise."""
    return f"<class '{(name or 'object').removeprefix('builtins.')}'>"


def shipped_versions() -> list[str]:
    """Torch versions torchvet has tables for, oldest first."""
    names = [
        p.name
        for p in resources.files("torchvet.policy").joinpath("data").iterdir()
        if p.name.startswith("torch-") and p.name.endswith(".json")
    ]
    versions = [n[len("torch-") : -len(".json")] for n in names]
    return sorted(versions, key=_version_key)


def _version_key(v: str) -> tuple[int, ...]:
    parts = []
    for piece in v.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def installed_torch_version() -> str | None:
    """The installed torch's version from package metadata, without importing torch."""
    try:
        return version("torch").split("+")[0]
    except PackageNotFoundError:
        return None


def pick_version(requested: str | None = None) -> str:
    """The table to use: the requested version, else the installed torch's, else the newest.

    A version without its own table uses the newest table not newer than it (and the
    oldest table for anything older)."""
    shipped = shipped_versions()
    wanted = requested or installed_torch_version()
    if wanted is None:
        return shipped[-1]
    if wanted in shipped:
        return wanted
    if requested and not any(ch.isdigit() for ch in requested):
        raise ValueError(f"not a torch version: {requested!r}")
    older = [v for v in shipped if _version_key(v) <= _version_key(wanted)]
    return older[-1] if older else shipped[0]


@cache
def load_facts(torch_version: str | None = None) -> TorchFacts:
    ver = pick_version(torch_version)
    raw = json.loads(
        resources.files("torchvet.policy").joinpath("data", f"torch-{ver}.json").read_text()
    )
    return TorchFacts(
        version=ver,
        allowed=dict(raw["allowed"]),
        user_allowed_after_import=frozenset(raw["user_allowed_after_import"]),
        blocked_modules=frozenset(raw["blocked_modules"]),
        must_import=dict(raw["must_import"]),
        name_mapping={tuple(k): tuple(v) for k, v in raw["name_mapping"]},  # type: ignore[misc]
        import_mapping=dict(raw["import_mapping"]),
        dtypes={name: DType(name=name, **info) for name, info in raw["dtypes"].items()},
        storage_types=dict(raw["storage_types"]),
        layouts=frozenset(raw["layouts"]),
        device_types=frozenset(raw["device_types"]),
        parameter_attributes=frozenset(raw["parameter_attributes"]),
        weights_only_opcodes=frozenset(raw["weights_only_opcodes"]),
        build_types=frozenset(raw["build_types"]),
        setitem_types=frozenset(raw["setitem_types"]),
        append_types=frozenset(raw["append_types"]),
        messages=dict(raw["messages"]),
    )
