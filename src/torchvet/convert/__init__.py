"""``torchvet.convert``: checkpoints to safetensors without running them (see core.py).

``torchvet.convert(IN, OUT)`` and ``torchvet.convert.convert(IN, OUT)`` are the same
call: importing this package replaces the ``torchvet.convert`` attribute (the lazy
function export) with the package, so the package itself is made callable.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from torchvet.convert.core import ConvertError, ConvertReport, convert

__all__ = ["ConvertError", "ConvertReport", "convert"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> ConvertReport:
        return convert(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
