"""The Hugging Face Hub through ``huggingface_hub``: revisions, listings and file URLs.

The repo API (revision -> commit, file listing) is ``HfApi``'s, so ``HF_ENDPOINT``,
``HF_TOKEN`` (or a saved login) and proxies work as they do for the rest of the
ecosystem. File bytes are read with range requests on the same ``resolve`` URLs that
``hf_hub_download`` uses, with ``huggingface_hub``'s headers (token included; it is
not forwarded when the Hub redirects to its CDN).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from torchvet import __version__
from torchvet.remote.errors import (
    AccessDenied,
    MissingExtra,
    NotFound,
    RemoteError,
    Unavailable,
    hint_for,
)
from torchvet.remote.http import open_http
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.retry import retrying
from torchvet.remote.urls import HfRef, parse_hf

T = TypeVar("T")
HINT = hint_for("hf")
# Packages whose exceptions mean the connection failed (huggingface_hub's HTTP client
# has changed across releases: requests, httpx, httpx2).
TRANSPORTS = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3"})


def _hf() -> Any:
    try:
        import huggingface_hub
    except ImportError:
        raise MissingExtra("reading hf:// URLs", "huggingface_hub") from None
    return huggingface_hub


def endpoint() -> str:
    """HF_ENDPOINT as it is now (huggingface_hub reads it once, at import)."""
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or _hf().constants.ENDPOINT


def _api() -> Any:
    return _hf().HfApi(endpoint=endpoint(), library_name="torchvet", library_version=__version__)


@contextmanager
def hub_errors() -> Iterator[None]:
    """huggingface_hub's exceptions as RemoteErrors that say what to do."""
    _hf()
    from huggingface_hub import errors

    try:
        yield
    except errors.GatedRepoError:
        raise AccessDenied("a gated repository", HINT) from None
    except errors.RepositoryNotFoundError:
        # The Hub answers 401 for private repositories too, so both readings are given.
        raise NotFound("no such repository, or it is private", HINT) from None
    except errors.RevisionNotFoundError:
        raise NotFound("no such revision") from None
    except errors.EntryNotFoundError:
        raise NotFound("no such file") from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
        if status in (401, 403):
            raise AccessDenied(f"HTTP {status}", HINT) from None
        if status >= 500 or status == 429:
            raise Unavailable(f"HTTP {status}") from None
        raise RemoteError(_first_line(exc)) from None
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in TRANSPORTS or isinstance(exc, TimeoutError):
            raise Unavailable(f"{type(exc).__name__}: {_first_line(exc)}") from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _call(options: RemoteOptions, fn: Callable[[], T]) -> T:
    def attempt() -> T:
        with hub_errors():
            return fn()

    return retrying(attempt, options)


def pin(ref: HfRef, options: RemoteOptions) -> HfRef:
    """The same reference at the commit its revision (default: the main branch) names now."""
    if ref.pinned:
        return ref
    info = _call(
        options,
        lambda: _api().repo_info(ref.repo_id, repo_type=ref.repo_type, revision=ref.revision),
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
        infos = _call(
            options,
            lambda: api.get_paths_info(
                ref.repo_id, [ref.path], revision=ref.revision, repo_type=ref.repo_type
            ),
        )
        if not infos:
            raise NotFound(f"{ref.url}: no such file or folder")
        if isinstance(infos[0], file_type):
            return [(ref.url, infos[0].size)], True
    entries = _call(
        options,
        lambda: list(
            api.list_repo_tree(
                ref.repo_id,
                path_in_repo=ref.path or None,
                recursive=True,
                revision=ref.revision,
                repo_type=ref.repo_type,
            )
        ),
    )
    files = sorted((e.path, e.size) for e in entries if isinstance(e, file_type))
    return [(ref.at(ref.revision or "", path).url, size) for path, size in files], False
