"""gather_blocks against torch's own .contiguous() on random strided views, with window
and block sizes small enough to take every path (one span, panels of runs, element by
element), and the tiled transpose."""

from __future__ import annotations

import random

import pytest

from torchvet.converter.gather import gather_blocks

torch = pytest.importorskip("torch")


def _random_view(rng: random.Random) -> tuple[torch.Tensor, bytes]:
    dims = rng.randint(1, 4)
    shape = [rng.randint(1, 9) for _ in range(dims)]
    n = 1
    for s in shape:
        n *= s
    start = rng.randint(0, 7)
    base = torch.arange(start + n * 3, dtype=torch.int32)
    t = base[start::3].view(*shape)  # a strided base
    t = t.permute(*rng.sample(range(dims), dims))
    d = rng.randrange(dims)
    if t.shape[d] > 2 and rng.random() < 0.5:
        t = t.narrow(d, 1, t.shape[d] - 2)
    if rng.random() < 0.3:  # a broadcast dimension (stride 0)
        t = t.unsqueeze(0).expand(3, *t.shape)
    return t, base.numpy().tobytes()


@pytest.mark.parametrize(("window", "out_block"), [(16 << 20, 512 << 10), (64, 16), (512, 40)])
def test_every_view_matches_torch_contiguous(window: int, out_block: int):
    rng = random.Random(window * 7 + out_block)
    for _ in range(300):
        t, storage = _random_view(rng)

        def read(start: int, into: memoryview, storage: bytes = storage) -> None:
            into[:] = storage[start : start + len(into)]

        pieces = gather_blocks(
            read, 4, t.storage_offset(), tuple(t.shape), t.stride(), None, window, out_block
        )
        got = b"".join(bytes(p) for p in pieces)
        assert got == t.contiguous().numpy().tobytes(), (t.shape, t.stride())
