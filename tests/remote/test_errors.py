"""Optional dependencies of remote reading: a missing one names the extra to install."""

from __future__ import annotations

import pytest

from torchvet.remote.errors import MissingExtra, require


def test_require_imports_what_is_installed() -> None:
    assert require("json", "reading json").dumps([1]) == "[1]"


def test_require_names_the_extra_when_the_module_is_missing() -> None:
    with pytest.raises(MissingExtra) as caught:
        require("torchvet_no_such_backend", "reading nothing://")
    assert caught.value.name == "torchvet_no_such_backend"
    assert "reading nothing:// needs the Python package 'torchvet_no_such_backend'" in str(
        caught.value
    )
    assert "pip install 'torchvet[remote]'" in str(caught.value)
