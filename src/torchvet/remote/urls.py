"""What a URL names, parsed without importing any backend (cheap for local runs)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote, unquote

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
# Hugging Face repo kinds as they appear in hf:// URLs (models need no prefix).
HF_KINDS = {"models": "model", "datasets": "dataset", "spaces": "space"}
_HF_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
COMMIT = re.compile(r"[0-9a-f]{40}")


def is_url(target: str | object) -> bool:
    """``scheme://...`` (a Windows path such as ``C:\\x`` is not one)."""
    return isinstance(target, str) and _SCHEME.match(target) is not None


def scheme_of(url: str) -> str:
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else ""


@dataclass(frozen=True)
class HfRef:
    """``hf://[datasets/|spaces/]ORG/NAME[@REVISION][/PATH]``."""

    repo_type: str  # model, dataset, space
    repo_id: str  # ORG/NAME
    revision: str | None
    path: str  # inside the repo; "" for the whole repo

    @property
    def url(self) -> str:
        rev = f"@{quote(self.revision, safe='')}" if self.revision else ""
        tail = f"/{self.path}" if self.path else ""
        return f"hf://{_HF_PREFIX[self.repo_type]}{self.repo_id}{rev}{tail}"

    def at(self, revision: str, path: str | None = None) -> HfRef:
        return replace(self, revision=revision, path=self.path if path is None else path)

    @property
    def pinned(self) -> bool:
        """Names a commit, so it can be read without asking the Hub what a branch is."""
        return self.revision is not None and COMMIT.fullmatch(self.revision) is not None


def parse_hf(url: str) -> HfRef:
    """Split an hf:// URL; ValueError names what is wrong with it."""
    rest = url[len("hf://") :] if url.lower().startswith("hf://") else url
    parts = rest.strip("/").split("/")
    repo_type = "model"
    if parts and parts[0] in HF_KINDS:
        repo_type = HF_KINDS[parts.pop(0)]
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"{url}: hf:// URLs name a repository as ORG/NAME (hf://ORG/NAME/PATH)")
    org, name, tail = parts[0], parts[1], parts[2:]
    revision = None
    if "@" in name:
        name, revision = name.split("@", 1)
        if revision == "refs" and len(tail) >= 2 and tail[0] in ("pr", "convert"):
            revision, tail = f"refs/{tail[0]}/{tail[1]}", tail[2:]  # refs/pr/N unencoded
        revision = unquote(revision) or None
    if "@" in org or not name:
        raise ValueError(f"{url}: a revision goes after the repository name (ORG/NAME@REVISION)")
    return HfRef(repo_type, f"{org}/{name}", revision, "/".join(tail))
