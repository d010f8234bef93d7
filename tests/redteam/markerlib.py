"""A payload that names no known gadget: a plain function of an importable module.

Pickles that call ``tests.redteam.markerlib.touch`` run code that no denylist knows,
so only an allowlist stops them. Loaders import this module from the repository root
(on ``PYTHONPATH`` in the harness). The function only creates the marker file.
"""

from __future__ import annotations

MARKER = "redteam.marker"  # relative: the loader runs in a fresh folder of its own


def touch() -> None:
    with open(MARKER, "w"):
        pass
