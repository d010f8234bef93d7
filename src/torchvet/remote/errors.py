"""Why a remote file could not be read, with what to do about it.

``RemoteError`` is an ``OSError`` so that callers that already turn unreadable local
files into clear messages (``convert``, ``scan_file``) do the same for remote ones.
"""

from __future__ import annotations

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
