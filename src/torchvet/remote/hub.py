"""The Hugging Face Hub through ``huggingface_hub``: revisions, listings and file URLs.

The repo API (revision -> commit, file listing) is ``HfApi``'s, so ``HF_ENDPOINT``,
``HF_TOKEN`` (or a saved login) and proxies work as they do for the rest of the
ecosystem. File bytes are read with range requests on the same ``resolve`` URLs that
``hf_hub_download`` uses, with ``huggingface_hub``'s headers (token included; it is
not forwarded when the Hub redirects to its CDN).
"""

from __future__ import annotations

import os
from typing import Any

from torchvet import __version__
from torchvet.remote.errors import NotFound, RemoteError, hub_errors, require
from torchvet.remote.http import open_http
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.retry import retrying
from torchvet.remote.urls import HfRef, parse_hf


def _hf() -> Any:
    return require("huggingface_hub", "reading hf:// URLs")


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or _hf().constants.ENDPOINT


def _api() -> Any:
    return _hf().HfApi(endpoint=endpoint(), library_name="torchvet", library_version=__version__)


def pin(ref: HfRef, options: RemoteOptions) -> HfRef:
    """The same reference at the commit its revision (default: the main branch) names now."""
    if ref.pinned:
        return ref
    info = retrying(
        lambda: _api().repo_info(ref.repo_id, repo_type=ref.repo_type, revision=ref.revision),
        options,
        hub_errors,
    )
    return ref.at(info.sha)


def open_hf(url: str, options: RemoteOptions) -> RangeSource:
    ref = pin(parse_hf(url), options)
    if not ref.path:
        raise RemoteError(f"{ref.url} names a repository, not a file")
    file_url = _hf().hf_hub_url(
        ref.repo_id, ref.path, repo_type=ref.repo_type, revision=ref.revision, endpoint=endpoint()
    )
    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers(library_name="torchvet", library_version=__version__)
    return open_http(file_url, options, name=ref.url, headers=headers, scheme="hf")


def list_hf(url: str, options: RemoteOptions) -> tuple[list[tuple[str, int | None]], bool]:
    """(``[(hf URL at the resolved commit, size)]``, whether ``url`` named one file)."""
    ref = pin(parse_hf(url), options)
    api = _api()
    from huggingface_hub.hf_api import RepoFile as file_type

    if ref.path:
        infos = retrying(
            lambda: api.get_paths_info(
                ref.repo_id, [ref.path], revision=ref.revision, repo_type=ref.repo_type
            ),
            options,
            hub_errors,
        )
        if not infos:
            raise NotFound(f"{ref.url}: no such file or folder")
        if isinstance(infos[0], file_type):
            return [(ref.url, infos[0].size)], True
    entries = retrying(
        lambda: list(
            api.list_repo_tree(
                ref.repo_id,
                path_in_repo=ref.path or None,
                recursive=True,
                revision=ref.revision,
                repo_type=ref.repo_type,
            )
        ),
        options,
        hub_errors,
    )
    files = sorted((e.path, e.size) for e in entries if isinstance(e, file_type))
    return [(ref.at(ref.revision or "", path).url, size) for path, size in files], False
