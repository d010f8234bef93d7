"""gather_blocks against torch's own .contiguous() on random strided views, with window
and block sizes small enough to take every path (one span, panels of runs, element by
element), and the tiled transpose; and the worker process that writes half of a large
checkpoint's strided tensors (its output, and a failure that leaves nothing behind)."""

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


def test_a_worker_process_writes_half_of_the_strided_tensors(tmp_path, monkeypatch):
    import torchvet.converter.parallel as parallel
    from torchvet.converter import ConvertError, convert

    st = pytest.importorskip("safetensors.torch")
    monkeypatch.setattr(parallel, "PARALLEL_MIN", 0)  # real files need 128 MiB of views
    g = torch.Generator().manual_seed(0)
    sd = {f"w{i}": torch.rand(40 + i, 30, generator=g).t() for i in range(6)}
    sd["contiguous"] = torch.arange(10.0)
    sd["half"] = torch.rand(20, 12, generator=g).to(torch.bfloat16).t()
    torch.save(sd, tmp_path / "t.pt")
    started = []
    real_delegate = parallel.delegate

    def delegate(plans, tmp):  # type: ignore[no-untyped-def]
        worker, ids = real_delegate(plans, tmp)
        started.append(len(ids))
        return worker, ids

    monkeypatch.setattr("torchvet.converter.copier.delegate", delegate)
    convert(tmp_path / "t.pt", tmp_path / "t.safetensors")
    assert started and started[0] >= 3  # the worker did write some of them
    got = st.load_file(str(tmp_path / "t.safetensors"))
    assert set(got) == set(sd) and all(torch.equal(got[k], v) for k, v in sd.items())

    def broken(p, off):  # type: ignore[no-untyped-def]  # a worker that cannot read its input
        task = parallel.Task("/nonexistent/input", 0, 4, 0, [1], [1], off)
        return task

    monkeypatch.setattr(parallel, "_task", broken)
    with pytest.raises(ConvertError, match="worker gathering strided tensors failed"):
        convert(tmp_path / "t.pt", tmp_path / "u.safetensors")
    assert not (tmp_path / "u.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
