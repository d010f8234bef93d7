"""The oldest torch a project declares: lower bounds read from requirement strings."""

from __future__ import annotations

import pytest

from torchvet.lint.project import lower_bound


@pytest.mark.parametrize(
    ("requirement", "floor"),
    [
        ("torch>=2.1", (2, 1)),
        ("torch ~= 1.13.1", (1, 13, 1)),
        ("torch[opt]>=2.0; python_version >= '3.9'", (2, 0)),
        ("torch<2", None),
        ("torchaudio>=0.1", None),
    ],
)
def test_lower_bound(requirement: str, floor) -> None:
    assert lower_bound(requirement) == floor
