"""check_view (the set_() emulation scanner and converter share) against real torch."""

from __future__ import annotations

import random

import pytest

from torchvet.pickle.tensorinfo import (
    INT64_MAX,
    ViewProblem,
    check_view,
    fits_int64,
    set_strides,
)

_ITEMSIZES = {1: "int8", 4: "float32", 8: "float64"}


def _torch_view(
    offset: int, size: tuple, stride: tuple, itemsize: int, nbytes: int
) -> tuple[int, ...] | None:
    """What torch._utils._rebuild_tensor does, set_ on a record's (fixed-size) storage:
    the strides the tensor gets, or None when torch refuses."""
    torch = pytest.importorskip("torch")
    storage = torch.frombuffer(bytearray(nbytes), dtype=torch.uint8).untyped_storage()
    tensor = torch.empty(0, dtype=getattr(torch, _ITEMSIZES[itemsize]))
    try:
        tensor.set_(storage, offset, size, stride)
    except (RuntimeError, TypeError, ValueError, OverflowError):
        return None
    return tuple(tensor.stride())


def _torch_accepts(offset: int, size: tuple, stride: tuple, itemsize: int, nbytes: int) -> bool:
    return _torch_view(offset, size, stride, itemsize, nbytes) is not None


def _views(count: int) -> list[tuple]:
    """Views near every edge torch's integer arithmetic has: int64 and uint64 overflow,
    zero and negative sizes, negative ("unset") strides, empty stride lists."""
    rng = random.Random(20)
    sizes = [-2, -1, 0, 1, 2, 3, 5, 2**31, 2**40, 2**62]
    strides = [-3, -1, 0, 1, 2, 3, 7, 2**31, 2**40, 2**62, INT64_MAX]
    views = []
    for _ in range(count):
        dims = rng.randint(0, 4)
        size = tuple(rng.choice(sizes) for _ in range(dims))
        stride = tuple(rng.choice(strides) for _ in range(dims))
        if dims and rng.random() < 0.2:
            stride = () if rng.random() < 0.5 else stride[:-1]
        offset = rng.choice([-1, 0, 1, 3, 10, 2**40, 2**62, INT64_MAX, 2**63])
        views.append((offset, size, stride, rng.choice(list(_ITEMSIZES)), rng.randint(1, 100)))
    return views


def test_check_view_agrees_with_set_() -> None:
    checked = 0
    for offset, size, stride, itemsize, nbytes in _views(6000):
        problem = check_view(offset, size, stride, itemsize, nbytes)
        strides = _torch_view(offset, size, stride, itemsize, nbytes)
        if problem is ViewProblem.EMPTY_NEGATIVE:
            assert strides is not None  # torch builds it; the models call it unverified
            continue
        view = (offset, size, stride, itemsize, nbytes, problem)
        assert (strides is not None) == (problem is None), view
        assert strides is None or strides == set_strides(size, stride), view
        checked += 1
    assert checked > 5000


@pytest.mark.parametrize(
    "size,stride,problem",
    [
        ((3, 2), (), None),  # an empty stride list: torch computes contiguous strides
        ((3, 5), (), ViewProblem.BOUNDS),  # ... and checks the contiguous span
        ((-1, 0), (1, 7), ViewProblem.EMPTY_NEGATIVE),  # numel 0 in uint64: torch builds it
        ((-1, 0), (), ViewProblem.EMPTY_NEGATIVE),  # the same, with contiguous strides
        ((2, 1), (1, -1), None),  # a negative stride on a size-1 dimension is ignored
        ((2, 3), (1, -1), ViewProblem.STRIDE),
        ((3, 2**31, 0), (-1, 2**40, 7), ViewProblem.STRIDE_CALC),  # -1 means "compute it"
        ((2**62, 4, 0), (1, 1, 1), ViewProblem.NUMEL),  # overflows before the zero
        ((2**62, 0, 4), (1, 1, 1), None),  # the zero comes first: no overflow
    ],
)
def test_uint64_arithmetic_like_torch(size: tuple, stride: tuple, problem: object) -> None:
    assert check_view(0, size, stride, 1, 10) is problem
    if problem is not ViewProblem.EMPTY_NEGATIVE:
        assert _torch_accepts(0, size, stride, 1, 10) == (problem is None)


def test_set_strides() -> None:
    assert set_strides((3, 0, 2), ()) == (2, 2, 1)
    assert set_strides((3, 2), (5, 7)) == (5, 7)
    assert set_strides((3, 2, 4), (-1, -1, 9)) == (72, 36, 9)
    assert set_strides((), ()) == ()


def test_fits_int64() -> None:
    assert fits_int64(()) and fits_int64((INT64_MAX, -INT64_MAX - 1))
    assert not fits_int64((INT64_MAX + 1,)) and not fits_int64((-INT64_MAX - 2,))


@pytest.mark.parametrize(
    "size,stride",
    [
        ((3, 2), ()),  # contiguous strides computed by torch
        ((2, 1), (1, -1)),  # an "unset" stride torch fills in
        ((2, 3), (1, -1)),  # refused: storage size overflow
        ((2**62, 4, 0), (1, 1, 1)),  # refused: numel overflows before the zero
        ((2, 2**62, 0), (-1, 1, 1)),  # refused: the computed stride overflows
        ((2, 0), (1, 1)),  # empty
    ],
)
def test_files_with_these_views_agree_with_torch_load(tmp_path, size, stride) -> None:
    torch = pytest.importorskip("torch")
    import collections

    from torchvet.converter import ConvertError, convert
    from torchvet.results import Verdict
    from torchvet.scan import scan_file

    storage = torch.arange(8, dtype=torch.float32).untyped_storage()

    class View:  # pickles as the rebuild call torch.save writes for a tensor
        def __reduce__(self):
            typed = torch.storage.TypedStorage(
                wrap_storage=storage, dtype=torch.float32, _internal=True
            )
            args = (typed, 0, size, stride, False, collections.OrderedDict())
            return (torch._utils._rebuild_tensor_v2, args)

    path = tmp_path / "view.pt"
    torch.save({"t": View()}, path)
    try:
        loaded = torch.load(path, weights_only=True)["t"]
    except Exception:
        loaded = None
    verdict = scan_file(path).verdict
    assert (verdict is Verdict.SAFE) == (loaded is not None), verdict
    if loaded is not None:
        import safetensors.torch as st

        out = tmp_path / "view.safetensors"
        try:
            convert(path, out)
        except ConvertError as exc:
            pytest.fail(f"torch loads it, convert refuses: {exc}")
        assert torch.equal(st.load_file(str(out))["t"], loaded)
