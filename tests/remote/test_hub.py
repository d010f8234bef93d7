"""hf:// through the real huggingface_hub client, against a loopback Hub (HF_ENDPOINT)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.remote import same_verdict
from tests.support.servers import LoopbackServer
from torchvet.many import scan_many
from torchvet.scan import scan_file

torch = pytest.importorskip("torch")
save_file = pytest.importorskip("safetensors.torch").save_file

# Never loaded: a pickle that names os.system, for the scanner to find.
DANGEROUS = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
MODELS = ["model.safetensors", "pytorch_model.bin", "sub/evil.pkl", "sub/weights.data"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    out = {name: root / name.replace("/", "__") for name in MODELS}
    torch.save({"w": torch.arange(100.0)}, out["pytorch_model.bin"])
    save_file({"w": torch.arange(10.0)}, str(out["model.safetensors"]))
    out["sub/evil.pkl"].write_bytes(DANGEROUS)
    torch.save({"w": torch.ones(3)}, out["sub/weights.data"])  # a model by content only
    (root / "README.md").write_text("# a model\n")
    (root / "config.json").write_text('{"hidden_size": 8}')
    out["README.md"] = root / "README.md"
    out["config.json"] = root / "config.json"
    for i in range(60):  # more entries than one page of the tree listing
        out[f"docs/page{i:02}.md"] = root / "README.md"
    return out


@pytest.fixture(scope="module")
def repos(server: LoopbackServer, files: dict[str, Path]) -> dict[str, str]:
    hub = server.hub
    return {
        "model": hub.add_repo("org/model", files),
        "data": hub.add_repo("org/data", {"x.pt": files["pytorch_model.bin"]}, kind="datasets"),
        "space": hub.add_repo("org/app", {"app.pkl": files["sub/evil.pkl"]}, kind="spaces"),
        "private": hub.add_repo("org/private", {"m.pt": files["sub/evil.pkl"]}, token="hf_test"),
        "gated": hub.add_repo("org/gated", {"m.pt": files["sub/evil.pkl"]}, gated=True),
    }


@pytest.fixture(autouse=True)
def endpoint(server: LoopbackServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", server.hub.endpoint)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def test_a_repo_is_listed_and_its_model_files_scanned(
    repos: dict[str, str], files: dict[str, Path]
) -> None:
    results = list(scan_many(["hf://org/model"]))
    sha = repos["model"]
    assert [r.path for r in results] == [f"hf://org/model@{sha}/{name}" for name in MODELS]
    for name, result in zip(MODELS, results, strict=True):
        assert same_verdict(result.to_json(), scan_file(files[name]).to_json()), name
    assert results[2].verdict.value == "dangerous"


def test_revisions_folders_and_files(server: LoopbackServer, repos: dict[str, str]) -> None:
    sha = repos["model"]
    sub = [r.path for r in scan_many(["hf://org/model@main/sub"])]
    assert sub == [f"hf://org/model@{sha}/sub/evil.pkl", f"hf://org/model@{sha}/sub/weights.data"]
    one = scan_file("hf://org/model/pytorch_model.bin")
    assert one.path == f"hf://org/model@{sha}/pytorch_model.bin"
    assert one.verdict.value == "safe"
    api_calls = sum(n for p, n in server.served.requests.items() if p.startswith("/api/"))
    pinned = scan_file(f"hf://org/model@{sha}/sub/evil.pkl")  # a commit needs no API call
    assert pinned.verdict.value == "dangerous"
    assert api_calls == sum(n for p, n in server.served.requests.items() if p.startswith("/api/"))


def test_datasets_and_spaces(repos: dict[str, str]) -> None:
    results = list(scan_many(["hf://datasets/org/data", "hf://spaces/org/app"]))
    assert [(r.path, r.verdict.value) for r in results] == [
        (f"hf://datasets/org/data@{repos['data']}/x.pt", "safe"),
        (f"hf://spaces/org/app@{repos['space']}/app.pkl", "dangerous"),
    ]


def test_a_private_repo_needs_hf_token(
    server: LoopbackServer, repos: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (refused,) = scan_many(["hf://org/private"])
    assert refused.format == "unreadable"
    assert "set HF_TOKEN to a token that can read it" in refused.findings[0].message
    monkeypatch.setenv("HF_TOKEN", "hf_test")  # the advice, followed
    (scanned,) = scan_many(["hf://org/private"])
    assert scanned.path == f"hf://org/private@{repos['private']}/m.pt"
    assert scanned.verdict.value == "dangerous"
    # The token went to the Hub, never to the CDN it redirects to (another host).
    seen = server.served.auth_seen
    assert any(p.startswith("/cdn/") for p in seen)
    assert all(not value for p, value in seen.items() if p.startswith("/cdn/"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("hf://org/gated/m.pt", "a gated repository; set HF_TOKEN"),
        ("hf://org/nothing", "no such repository, or it is private; set HF_TOKEN"),
        ("hf://org/model@v9", "no such revision"),
        ("hf://org/model/missing.pt", "no such file or folder"),
    ],
)
def test_what_cannot_be_read(repos: dict[str, str], url: str, message: str) -> None:
    (result,) = scan_many([url])
    assert result.format == "unreadable"
    assert message in result.findings[0].message


def test_cli_names_files_by_commit(server: LoopbackServer, repos: dict[str, str]) -> None:
    proc = run_cli(
        "scan", "--format", "json", "hf://org/model@main/sub", env={"HF_ENDPOINT": server.base}
    )
    assert proc.returncode == 1, proc.stderr
    docs = json.loads(proc.stdout)["files"]
    sha = repos["model"]
    assert [d["path"] for d in docs] == [
        f"hf://org/model@{sha}/sub/evil.pkl",
        f"hf://org/model@{sha}/sub/weights.data",
    ]
    assert all(0 < d["bytes_read"] <= d["size"] for d in docs)
