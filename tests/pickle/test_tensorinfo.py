"""check_view (the set_() emulation scanner and converter share) against real torch."""

from __future__ import annotations

import random

import pytest

from torchvet.pickle.tensorinfo import INT64_MAX, ViewProblem, check_view, fits_int64

_ITEMSIZES = {1: "int8", 4: "float32", 8: "float64"}


def _torch_accepts(offset: int, size: tuple, stride: tuple, itemsize: int, nbytes: int) -> bool:
    """What torch._utils._rebuild_tensor does: set_ on a record's (fixed-size) storage."""
    torch = pytest.importorskip("torch")
    storage = torch.frombuffer(bytearray(nbytes), dtype=torch.uint8).untyped_storage()
    tensor = torch.empty(0, dtype=getattr(torch, _ITEMSIZES[itemsize]))
    try:
        tensor.set_(storage, offset, size, stride)
    except (RuntimeError, TypeError, ValueError, OverflowError):
        return False
    return True


def _known_gap(size: tuple, stride: tuple) -> bool:
    """Forms where torchvet does not yet agree with torch (see the xfail cases below)."""
    if len(size) != len(stride):
        return not stride
    if any(n == 0 for n in size):
        return any(n < 0 for n in size) or _overflows_before_zero(size)
    return any(s < 0 for n, s in zip(size, stride, strict=True) if n == 1)


def _overflows_before_zero(size: tuple) -> bool:
    product = 1
    for n in size:
        if n == 0:
            return False
        product *= n
        if product > INT64_MAX:
            return True
    return False


def _views(count: int) -> list[tuple]:
    rng = random.Random(20)
    views = []
    for _ in range(count):
        dims = rng.randint(0, 3)
        size = tuple(rng.choice([-1, 0, 1, 2, 3, 4, 2**31, 2**62]) for _ in range(dims))
        stride = tuple(rng.choice([-1, 0, 1, 2, 3, 7, 2**40]) for _ in range(dims))
        if dims and rng.random() < 0.2:
            stride = stride[:-1]
        offset = rng.choice([-1, 0, 1, 3, 10, 2**62, 2**63])
        views.append((offset, size, stride, rng.choice(list(_ITEMSIZES)), rng.randint(1, 64)))
    return views


def test_check_view_agrees_with_set_() -> None:
    checked = 0
    for offset, size, stride, itemsize, nbytes in _views(3000):
        problem = check_view(offset, size, stride, itemsize, nbytes)
        if problem is ViewProblem.EMPTY_NEGATIVE_STRIDE or _known_gap(size, stride):
            continue  # the models call the first unverified; the rest: xfail cases below
        accepted = _torch_accepts(offset, size, stride, itemsize, nbytes)
        assert accepted == (problem is None), (offset, size, stride, itemsize, nbytes, problem)
        checked += 1
    assert checked > 2000


@pytest.mark.xfail(strict=True, reason="torchvet refuses a view torch accepts or the reverse")
@pytest.mark.parametrize(
    "size,stride",
    [
        ((3, 2), ()),  # an empty stride list: torch computes contiguous strides
        ((-1, 0), (1, 7)),  # a negative size next to a zero one: numel 0 in uint64
        ((2, 1), (1, -1)),  # a negative stride on a size-1 dimension is ignored
        ((2**62, 4, 0), (1, 1, 1)),  # the product overflows before the zero: refused
    ],
)
def test_known_disagreements_with_set_(size: tuple, stride: tuple) -> None:
    problem = check_view(0, size, stride, 1, 40)
    assert _torch_accepts(0, size, stride, 1, 40) == (problem is None)


def test_fits_int64() -> None:
    assert fits_int64(()) and fits_int64((INT64_MAX, -INT64_MAX - 1))
    assert not fits_int64((INT64_MAX + 1,)) and not fits_int64((-INT64_MAX - 2,))
