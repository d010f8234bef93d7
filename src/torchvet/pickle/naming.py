"""How a GLOBAL's (module, name) becomes the name that is looked up."""

from __future__ import annotations

import _compat_pickle
from dataclasses import dataclass


@dataclass
class Naming:
    """How GLOBAL names are mapped before lookup (torch._utils NAME/IMPORT_MAPPING)."""

    name_mapping: dict[tuple[str, str], tuple[str, str]]
    import_mapping: dict[str, str]

    def map(self, module: str, name: str) -> tuple[str, str]:
        mapped = self.name_mapping.get((module, name))
        if mapped is not None:
            return mapped
        return self.import_mapping.get(module, module), name


def pickle_reading(module: str, name: str, proto: int) -> tuple[str, str]:
    """The name CPython's unpicklers look up: below protocol 3 (the protocol of the
    last PROTO opcode, 0 without one) ``fix_imports`` maps Python 2 names with
    ``_compat_pickle``'s tables, which are larger than torch's (``commands`` is
    ``subprocess`` there)."""
    if proto >= 3:
        return module, name
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped is not None:
        return mapped
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name
