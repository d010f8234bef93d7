"""torchvet: vet PyTorch model files and the code that loads them.

The core (``scan``, ``lint``, ``convert``) imports neither torch nor numpy. The
torch-facing APIs (``load``, ``save``, ``guard``) import torch lazily, on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names resolved lazily so that `import torchvet` stays cheap and torch-free.
_LAZY = {
    "scan_file": "torchvet.scan",
    "scan_bytes": "torchvet.scan",
    "scan_many": "torchvet.many",
    "ScanResult": "torchvet.results",
    "Finding": "torchvet.results",
    "Verdict": "torchvet.results",
    "Category": "torchvet.results",
    "load": "torchvet.safeload",
    "save": "torchvet.safeload",
    "UnsafeCheckpointError": "torchvet.errors",
    "BlockedGlobalError": "torchvet.errors",
    "guard": "torchvet.guarding",
    "convert": "torchvet.converter",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    from torchvet.many import scan_many as scan_many
    from torchvet.results import Category as Category
    from torchvet.results import Finding as Finding
    from torchvet.results import ScanResult as ScanResult
    from torchvet.results import Verdict as Verdict
    from torchvet.scan import scan_bytes as scan_bytes
    from torchvet.scan import scan_file as scan_file


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'torchvet' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value
