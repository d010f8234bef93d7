"""The worker process that writes half of a large checkpoint's strided tensors: its
output, and a failure that leaves nothing behind."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


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
