"""Why a remote file could not be read, with what to do about it.

``RemoteError`` is an ``OSError`` so that callers that already turn unreadable local
files into clear messages (``convert``, ``scan_file``) do the same for remote ones.
``hub_errors`` and ``fsspec_errors`` turn each backend's own exceptions into them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

REMOTE_EXTRA = "remote"
DASK_EXTRA = "dask"


class RemoteError(OSError):
    """A remote file could not be read. ``str()`` is the whole message, hint included."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return str(self.args[0])


class NotFound(RemoteError):
    """404/410, a missing key, repository, revision or path."""


class AccessDenied(RemoteError):
    """401/403, missing or refused credentials."""


class NoRangeSupport(RemoteError):
    """The server answers range requests with the whole file."""


class Unavailable(RemoteError):
    """5xx, time-outs and connection failures that outlived the retries."""


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, what: str, module: str, extra: str = REMOTE_EXTRA) -> None:
        super().__init__(
            f"{what} needs the Python package {module!r}, which is not installed: "
            f"pip install 'torchvet[{extra}]'",
            name=module,
        )
        self.extra = extra


def require(module: str, what: str, extra: str = REMOTE_EXTRA) -> Any:
    """``module``, imported; MissingExtra (saying which extra installs it) without it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(what, module, extra) from None


def hint_for(scheme: str) -> str:
    """What to do about refused credentials, per store."""
    if scheme == "hf":
        return (
            "set HF_TOKEN to a token that can read it (or run `hf auth login`); "
            "for a gated repository, accept its terms on the Hub first"
        )
    if scheme in ("s3", "s3a"):
        return (
            "s3fs found no credentials that may read it: set AWS_PROFILE, or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if scheme in ("gs", "gcs"):
        return (
            "gcsfs found no credentials that may read it: set "
            "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`"
        )
    if scheme in ("http", "https"):
        return "the server wants credentials; use a URL that carries them (e.g. a signed URL)"
    return "check the credentials this store's fsspec backend uses"


# -- each backend's exceptions, as the errors above ------------------------------------
_HF_HINT = hint_for("hf")
# Packages whose exceptions mean the connection failed (huggingface_hub's HTTP client
# has changed across releases: requests, httpx, httpx2).
TRANSPORTS = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "requests", "urllib3"})


@contextmanager
def hub_errors() -> Iterator[None]:
    """huggingface_hub's exceptions as RemoteErrors that say what to do."""
    require("huggingface_hub", "reading hf:// URLs")
    from huggingface_hub import errors

    try:
        yield
    except errors.GatedRepoError:
        raise AccessDenied("a gated repository", _HF_HINT) from None
    except errors.RepositoryNotFoundError:
        # The Hub answers 401 for private repositories too, so both readings are given.
        raise NotFound("no such repository, or it is private", _HF_HINT) from None
    except errors.RevisionNotFoundError:
        raise NotFound("no such revision") from None
    except errors.EntryNotFoundError:
        raise NotFound("no such file") from None
    except errors.HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
        if status in (401, 403):
            raise AccessDenied(f"HTTP {status}", _HF_HINT) from None
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


@contextmanager
def fsspec_errors(scheme: str) -> Iterator[None]:
    """fsspec's and its backends' exceptions as RemoteErrors that say what to do."""
    import asyncio  # only fsspec's backends raise its TimeoutError (a builtin's alias in 3.11)

    try:
        yield
    except (RemoteError, MissingExtra):
        raise
    except FileNotFoundError:
        raise NotFound("no such file or folder") from None
    except PermissionError as exc:
        raise AccessDenied(f"access denied: {exc}", hint_for(scheme)) from None
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:
        raise Unavailable(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if "credential" in type(exc).__name__.lower():  # botocore's NoCredentialsError
            raise AccessDenied(str(exc), hint_for(scheme)) from None
        raise RemoteError(f"{type(exc).__name__}: {exc}") from None
