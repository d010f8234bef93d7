"""Checkpoints to safetensors without running them (see core.py).

Public as ``torchvet.convert(IN, OUT)``; this package is named ``converter`` so that
importing it never shadows that function.
"""

from __future__ import annotations

from torchvet.converter.core import ConvertError, ConvertReport, convert

__all__ = ["ConvertError", "ConvertReport", "convert"]
