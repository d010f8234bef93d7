"""Scan one remote file through the scanner's only seam, ``scan_source``.

Never raises for bad input: a file that cannot be opened is ``unreadable`` (like a
local file that cannot be read); a scan that loses its connection half-way is an
``error`` result, at least ``unknown``, because what was not read was not judged.
"""

from __future__ import annotations

from torchvet.check.detect import content_kind, has_model_suffix
from torchvet.policy import verdict
from torchvet.policy.judge import Policy
from torchvet.remote.errors import RemoteError
from torchvet.remote.options import RemoteOptions
from torchvet.remote.rangesource import RangeSource
from torchvet.remote.stores import open_source
from torchvet.results import ScanResult
from torchvet.scan import scan_source

DOWNLOADED = (
    "the server ignores range requests: the whole file ({size} bytes) was downloaded "
    "to scan it (--allow-download)"
)


def scan_url(
    url: str, policy: Policy | None = None, *, options: RemoteOptions | None = None
) -> ScanResult:
    """Scan the file at ``url``."""
    result = scan_remote(url, policy, options=options, listed=False)
    assert result is not None  # only listed files are skipped
    return result


def scan_remote(
    url: str,
    policy: Policy | None = None,
    *,
    options: RemoteOptions | None = None,
    listed: bool = False,
) -> ScanResult | None:
    """``listed``: the file was found by listing a folder or a repo, so it is scanned only
    if it is a model file (by extension, else by content); None when it is not one."""
    try:
        src = open_source(url, options)
    except RemoteError as exc:
        return unreadable(url, str(exc))
    with src:
        try:
            if listed and not has_model_suffix(src.name) and content_kind(src) is None:
                return None if src.failure is None else incomplete(src.name, src.failure, src)
            result = scan_source(src, policy, path=src.name)
        except RemoteError as exc:
            return incomplete(src.name, exc, src)
        if src.failure is not None:  # a reader caught the read error: its result is partial
            return incomplete(src.name, src.failure, src)
    result.bytes_read = src.bytes_read
    if src.downloaded:
        verdict.add_note(result, DOWNLOADED.format(size=src.size))
    return result


def unreadable(path: str, why: str, size: int = 0) -> ScanResult:
    """Nothing could be read: reported like a local file that cannot be opened."""
    return verdict.unreadable(path, why, size, bytes_read=0)


def incomplete(path: str, why: BaseException | str, src: RangeSource | None = None) -> ScanResult:
    """The scan started but could not finish: never better than unknown."""
    size, bytes_read = (src.size, src.bytes_read) if src is not None else (0, None)
    return verdict.incomplete(path, why, size, bytes_read)
