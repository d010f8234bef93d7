"""s3:// through s3fs, against moto's S3 server on loopback."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.remote import same_verdict
from torchvet.many import scan_many
from torchvet.scan import scan_file

torch = pytest.importorskip("torch")

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

DANGEROUS = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import s3fs

    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # Credentials come from here only: no profile files, never an instance-metadata lookup.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture(scope="module")
def bucket(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import boto3

    root = tmp_path_factory.mktemp("s3")
    files = {
        "team/a/model.pt": root / "model.pt",
        "team/a/notes.txt": root / "notes.txt",
        "team/b/evil.bin": root / "evil.bin",
        "team/b/checkpoint": root / "checkpoint",
        "other/x.pt": root / "model.pt",
    }
    torch.save({"w": torch.arange(50.0)}, files["team/a/model.pt"])
    files["team/a/notes.txt"].write_text("not a model\n")
    files["team/b/evil.bin"].write_bytes(DANGEROUS)
    torch.save({"w": torch.ones(2)}, files["team/b/checkpoint"])  # a model by content only
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket="models")
    for key, path in files.items():
        client.put_object(Bucket="models", Key=key, Body=path.read_bytes())
    return files


def test_a_prefix_is_listed_and_its_model_files_scanned(bucket: dict[str, Path]) -> None:
    results = list(scan_many(["s3://models/team/"]))
    keys = ["team/a/model.pt", "team/b/checkpoint", "team/b/evil.bin"]
    assert [r.path for r in results] == [f"s3://models/{k}" for k in keys]
    for key, result in zip(keys, results, strict=True):
        assert same_verdict(result.to_json(), scan_file(bucket[key]).to_json()), key
        assert 0 < (result.bytes_read or 0) <= result.size


def test_a_key_and_a_missing_key() -> None:
    found, missing = scan_many(["s3://models/other/x.pt", "s3://models/other/nothing.pt"])
    assert (found.path, found.verdict.value) == ("s3://models/other/x.pt", "safe")
    assert missing.format == "unreadable"
    assert missing.findings[0].message == "cannot read file: no such file or folder"


def test_missing_credentials_say_what_to_do(
    bucket: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs

    for key in CREDENTIALS:
        monkeypatch.delenv(key)
    (refused,) = scan_many(["s3://models/other/x.pt"])
    assert refused.format == "unreadable"
    assert "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" in (
        refused.findings[0].message
    )
    for key, value in CREDENTIALS.items():  # the advice, followed
        monkeypatch.setenv(key, value)
    s3fs.S3FileSystem.clear_instance_cache()
    (scanned,) = scan_many(["s3://models/other/x.pt"])
    assert scanned.verdict.value == "safe"
