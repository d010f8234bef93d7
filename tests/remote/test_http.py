"""http(s) sources: what each kind of server answer becomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.remote import same_verdict
from tests.support.servers import LoopbackServer
from torchvet.remote.options import RemoteOptions
from torchvet.remote.scanning import scan_remote, scan_url
from torchvet.scan import scan_file

FAST = RemoteOptions(backoff=0.01)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    path = tmp_path_factory.mktemp("http") / "model.pt"
    torch.save({"w": torch.arange(5000.0), "b": torch.zeros(3)}, path)
    return path


def test_missing_file(server: LoopbackServer) -> None:
    result = scan_url(server.base + "/no/such/model.pt")
    assert (result.format, result.verdict.value) == ("unreadable", "malformed")
    assert result.findings[0].message == "cannot read file: HTTP 404 Not Found"


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_say_what_to_do(
    server: LoopbackServer, model: Path, status: int
) -> None:
    if status == 401:
        url = server.add("http/private.pt", model, token="s3cret")
    else:
        url = server.add("http/forbidden.pt", model, status=403)
    result = scan_url(url)
    assert result.format == "unreadable"
    message = result.findings[0].message
    assert f"HTTP {status}" in message
    assert "use a URL that carries them (e.g. a signed URL)" in message
    if status == 401:  # the advice, followed
        signed = scan_url(url + "?sig=s3cret")
        assert same_verdict(signed.to_json(), scan_file(model).to_json())


def test_server_errors_are_retried(server: LoopbackServer, model: Path) -> None:
    steady = scan_url(server.add("http/steady.pt", model))
    result = scan_remote(server.add("http/flaky.pt", model, fail=2), options=FAST)
    assert result is not None
    assert same_verdict(result.to_json(), steady.to_json())
    assert same_verdict(result.to_json(), scan_file(model).to_json())
    # Both 503s were served and retried past: one request each, then the real reads.
    # (Not compared with the steady scan's count: a loaded machine may time out there too.)
    assert server.served.rules["/http/flaky.pt"].fail == 0
    assert server.served.requests["/http/flaky.pt"] >= 3


def test_a_server_that_keeps_failing(server: LoopbackServer, model: Path) -> None:
    url = server.add("http/down.pt", model, fail=100)
    result = scan_remote(url, options=FAST)
    assert result is not None and result.format == "unreadable"
    assert "HTTP 503" in result.findings[0].message
    assert server.served.requests["/http/down.pt"] == FAST.retries + 1


def test_a_stalled_answer_is_retried(server: LoopbackServer, model: Path) -> None:
    url = server.add("http/stall.pt", model, stall=1)
    result = scan_remote(url, options=RemoteOptions(backoff=0.01, timeout=0.5))
    assert result is not None
    assert same_verdict(result.to_json(), scan_file(model).to_json())
    assert server.served.requests["/http/stall.pt"] >= 2


def test_a_dropped_connection_is_retried(server: LoopbackServer, model: Path) -> None:
    url = server.add("http/cut.pt", model)
    with_cut = server.add("http/cut-once.pt", model, cut=1)
    assert scan_url(url).to_json()["bytes_read"] == server.sent("http/cut.pt")
    assert same_verdict(scan_remote(with_cut, options=FAST).to_json(), scan_file(model).to_json())


def test_an_empty_file_is_judged_like_a_local_one(server: LoopbackServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    result = scan_url(server.add("http/empty.pt", empty))
    assert same_verdict(result.to_json(), scan_file(empty).to_json())


def test_a_small_file_from_a_server_without_ranges(server: LoopbackServer, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    small = tmp_path / "small.pt"
    torch.save({"w": torch.ones(2)}, small)
    assert small.stat().st_size <= 4096
    result = scan_url(server.add("http/small-norange.pt", small, no_range=True))
    assert same_verdict(result.to_json(), scan_file(small).to_json())


def test_no_range_support_is_refused_unless_allowed(server: LoopbackServer, model: Path) -> None:
    url = server.add("http/norange.pt", model, no_range=True)
    refused = run_cli("scan", url)
    assert refused.returncode == 1
    assert "ignores range requests" in refused.stdout
    assert "rerun with --allow-download to download it" in refused.stdout
    assert server.sent("http/norange.pt") < 1 << 16  # the connection was dropped, not read
    allowed = run_cli("scan", "--allow-download", "--format", "json", url)  # the advice
    assert allowed.returncode == 0, allowed.stderr
    (doc,) = json.loads(allowed.stdout)["files"]
    assert doc["verdict"] == "safe"
    assert doc["bytes_read"] == doc["size"] == model.stat().st_size
    assert f"torchvet scan: warning: {url}: the server does not support range requests" in (
        allowed.stderr
    )
