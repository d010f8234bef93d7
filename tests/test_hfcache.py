"""`torchvet scan --hf-cache` on a fake hub cache built in a temp dir."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

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
        "hf://acme/tiny@1111111111111111/pytorch_model.bin": "safe",
        "hf://acme/tiny@1111111111111111/sub/extra.pt": "needs-allowlist",
        "hf://acme/tiny@2222222222222222/pytorch_model.bin": "safe",
        "hf://acme/tiny@2222222222222222/sub/extra.pt": "needs-allowlist",
    }


def test_hf_home_or_one_repo_folder_is_accepted(
    tmp_path: Path, corpus: Corpus, capsys, monkeypatch
) -> None:
    _fake_cache(tmp_path / "home" / "hub", corpus)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    for args in (
        [],
        [str(tmp_path / "home")],
        [str(tmp_path / "home" / "hub" / "models--acme--tiny")],
    ):
        assert main(["scan", "--hf-cache", *args, "--format", "json"]) == 1
        files = json.loads(capsys.readouterr().out)["files"]
        assert len(files) == 4  # two revisions x two files, the dangling symlink skipped
    assert main(["scan", "--hf-cache", str(tmp_path)]) == 2
    assert "is not a Hugging Face cache" in capsys.readouterr().err


def _real_model_repo(root: Path) -> Path:
    """A cache as huggingface_hub lays out a transformers model: weights as safetensors
    and pickle, config and tokenizer files beside them, each a symlink to its blob."""
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    repo = root / "models--acme--bert"
    blobs = repo / "blobs"
    blobs.mkdir(parents=True)
    weights = {"w": torch.ones(2, 2)}
    save_file(weights, str(blobs / "b1"))
    torch.save(weights, blobs / "b2")
    (blobs / "b3").write_text(json.dumps({"architectures": ["BertModel"], "hidden_size": 2}))
    (blobs / "b4").write_text("# acme/bert\n\nA model card.\n")
    snap = repo / "snapshots" / ("ab" * 20)
    snap.mkdir(parents=True)
    for name, blob in [
        ("model.safetensors", "b1"),
        ("pytorch_model.bin", "b2"),
        ("config.json", "b3"),
        ("README.md", "b4"),
    ]:
        os.symlink(f"../../blobs/{blob}", snap / name)
    return repo


def test_a_healthy_repo_exits_0_and_non_models_are_skipped(tmp_path: Path, capsys) -> None:
    repo = _real_model_repo(tmp_path)
    assert main(["scan", "--hf-cache", str(tmp_path), "--format", "json"]) == 0
    files = {f["path"]: f["verdict"] for f in json.loads(capsys.readouterr().out)["files"]}
    rev = "ab" * 20
    assert files == {
        f"hf://acme/bert@{rev}/model.safetensors": "safe",  # judged by its snapshot name
        f"hf://acme/bert@{rev}/pytorch_model.bin": "safe",
    }
    snapshot = repo / "snapshots" / rev
    assert main(["scan", str(snapshot)]) == 0
    out = capsys.readouterr().out
    assert "2 files scanned: 2 safe" in out and "2 other files skipped" in out


def test_check_judges_cache_blobs_by_their_snapshot_names(tmp_path: Path, capsys) -> None:
    _real_model_repo(tmp_path)
    assert main(["check", str(tmp_path), "--format", "json"]) == 0
    models = {m["path"]: m["verdict"] for m in json.loads(capsys.readouterr().out)["models"]}
    rev = "ab" * 20
    snapshot = tmp_path / "models--acme--bert" / "snapshots" / rev
    assert models == {
        str(snapshot / "model.safetensors"): "safe",
        str(snapshot / "pytorch_model.bin"): "safe",
    }


def test_empty_folder_says_so(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["scan", str(tmp_path / "empty")]) == 0
    assert "no model files found" in capsys.readouterr().err
