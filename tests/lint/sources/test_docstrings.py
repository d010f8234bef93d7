"""Code examples in a .py file's docstrings and doc constants: their own namespace, original positions."""

from __future__ import annotations

from tests.lint.helpers import lint, positions

DOCSTRINGS = '''\
"""Module.

>>> from torch import load as read
"""
import torch


def read(path):
    """Read a checkpoint.

    >>> read("m.pt")
    >>> state = torch.load("m.pt")
    """
    return torch.load(path, weights_only=True)


read("m.pt")
EXAMPLE = r"""
```python
model.load_state_dict(torch.load(p), mmap=True)
```
"""
'''


def test_docstring_examples_have_their_own_namespace_and_original_positions() -> None:
    found = positions(lint("m.py", DOCSTRINGS))
    # `read` in the function's docstring is the module's own function, not the
    # `torch.load` alias imported in the module docstring's example.
    assert found == [
        ("TV002", None, 12, 17, 12, 35),
        ("TV002", None, 20, 23, 20, 36),
        ("TV001", None, 20, 38, 20, 47),
    ]


def test_strings_that_are_not_documentation_are_not_read() -> None:
    code = 'import torch\nf(""">>> torch.load(p)""")\nx = b""">>> torch.load(p)"""\n'
    assert positions(lint("m.py", code)) == []
