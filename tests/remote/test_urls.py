"""URLs parsed without a backend: what is a URL, and hf:// references in every spelling
docs/remote.md gives, each written back as the URL it was read from."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torchvet.remote.urls import HfRef, is_url, parse_hf, scheme_of


def test_what_is_a_url() -> None:
    for url in ("https://x.test/m.pt", "s3://bucket/key", "hf://org/name", "GS://b/k"):
        assert is_url(url), url
    for path in ("model.pt", "/data/model.pt", "C:\\models\\m.pt", "./s3:/x"):
        assert not is_url(path), path
    assert scheme_of("GS://b/k") == "gs"


@pytest.mark.parametrize(
    ("url", "ref"),
    [
        ("hf://org/name", HfRef("model", "org/name", None, "")),
        ("hf://org/name/sub/w.bin", HfRef("model", "org/name", None, "sub/w.bin")),
        ("hf://datasets/org/data@v1.0/x.pkl", HfRef("dataset", "org/data", "v1.0", "x.pkl")),
        ("hf://spaces/org/app@main", HfRef("space", "org/app", "main", "")),
        ("hf://org/name@refs/pr/3/model.pt", HfRef("model", "org/name", "refs/pr/3", "model.pt")),
        ("hf://org/name@feature%2Fx/m.pt", HfRef("model", "org/name", "feature/x", "m.pt")),
    ],
)
def test_hf_references(url: str, ref: HfRef) -> None:
    assert parse_hf(url) == ref
    assert parse_hf(ref.url) == ref


def test_only_a_commit_pins_a_revision() -> None:
    assert parse_hf("hf://org/name@" + "ab" * 20).pinned
    assert not parse_hf("hf://org/name@main").pinned
    assert not parse_hf("hf://org/name@" + "AB" * 20).pinned  # the Hub's commits are lowercase
    assert not parse_hf("hf://org/name").pinned


@pytest.mark.parametrize("url", ["hf://org", "hf://datasets/org", "hf://org@main/name"])
def test_hf_references_that_name_no_repository(url: str) -> None:
    with pytest.raises(ValueError, match=url):
        parse_hf(url)


NAMES = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8).filter(
    lambda s: s not in (".", "..") and s not in ("models", "datasets", "spaces")
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["model", "dataset", "space"]),
    org=NAMES,
    name=NAMES,
    revision=st.none() | st.text("abcdef0123456789/-.", min_size=1, max_size=12),
    path=st.lists(NAMES, max_size=3).map("/".join),
)
def test_every_reference_survives_its_url(kind, org, name, revision, path) -> None:
    ref = HfRef(kind, f"{org}/{name}", revision, path)
    assert parse_hf(ref.url) == ref
