"""`torchvet scan --hf-cache` on a fake hub cache built in a temp dir."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.corpus import Corpus
from torchvet.cli import main
from torchvet.hfcache import default_cache_dir, iter_cache


def _fake_cache(root: Path, corpus: Corpus) -> None:
    repo = root / "models--acme--tiny"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    shutil.copy(corpus.by_id("mlp-state-dict").path, blobs / "aaa")
    shutil.copy(corpus.by_id("numpy-scalar").path, blobs / "bbb")
    for rev in ("1111111111111111", "2222222222222222"):
        snap = repo / "snapshots" / rev
        (snap / "sub").mkdir(parents=True)
        os.symlink(blobs / "aaa", snap / "pytorch_model.bin")
        os.symlink(blobs / "bbb", snap / "sub" / "extra.pt")
    (repo / "snapshots" / "2222222222222222" / "dangling.bin").symlink_to(blobs / "missing")
    (root / "datasets--acme--data" / "snapshots").mkdir(parents=True)
    (root / "version.txt").write_text("1")


def test_default_cache_dir_respects_env() -> None:
    assert default_cache_dir({"HF_HUB_CACHE": "/x/hub"}) == Path("/x/hub")
    assert default_cache_dir({"HF_HOME": "/h"}) == Path("/h/hub")
    assert default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/huggingface/hub")


def test_iter_cache_layout(tmp_path: Path, corpus: Corpus) -> None:
    _fake_cache(tmp_path, corpus)
    refs = list(iter_cache(tmp_path))
    assert [(r.repo_id, r.revision[:4], r.path) for r in refs] == [
        ("acme/tiny", "1111", "pytorch_model.bin"),
        ("acme/tiny", "1111", "sub/extra.pt"),
        ("acme/tiny", "2222", "pytorch_model.bin"),
        ("acme/tiny", "2222", "sub/extra.pt"),
    ]
    assert len({r.blob for r in refs}) == 2


def test_scan_hf_cache_reports_every_reference(
    tmp_path: Path, corpus: Corpus, capsys, monkeypatch
) -> None:
    _fake_cache(tmp_path, corpus)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert main(["scan", "--hf-cache", "--format", "json"]) == 1
    files = json.loads(capsys.readouterr().out)["files"]
    verdicts = {f["path"]: f["verdict"] for f in files}
    assert verdicts == {
        "hf://models/acme/tiny@111111111111/pytorch_model.bin": "safe",
        "hf://models/acme/tiny@111111111111/sub/extra.pt": "needs-allowlist",
        "hf://models/acme/tiny@222222222222/pytorch_model.bin": "safe",
        "hf://models/acme/tiny@222222222222/sub/extra.pt": "needs-allowlist",
    }


def test_hf_home_is_respected_and_each_blob_is_scanned_once(
    tmp_path: Path, corpus: Corpus, capsys, monkeypatch
) -> None:
    _fake_cache(tmp_path / "home" / "hub", corpus)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    import torchvet.scan

    scanned: list[Path] = []
    real = torchvet.scan.scan_file
    monkeypatch.setattr(
        torchvet.scan, "scan_file", lambda p, **kw: scanned.append(Path(p)) or real(p, **kw)
    )
    assert main(["scan", "--hf-cache", "--format", "json"]) == 1
    files = json.loads(capsys.readouterr().out)["files"]
    assert len(files) == 4  # two revisions x two files, the dangling symlink skipped
    assert sorted(p.name for p in scanned) == ["aaa", "bbb"]  # blobs, once each
