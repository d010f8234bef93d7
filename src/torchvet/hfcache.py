"""The Hugging Face hub cache: which files belong to which repo id and revision.

Layout (huggingface_hub): ``<cache>/<type>s--<org>--<name>/snapshots/<revision>/<path>``,
where each file is usually a symlink into ``<type>s--<org>--<name>/blobs/<sha>``. Several
revisions share blobs, so each blob is scanned once and reported for every reference.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}


def default_cache_dir(env: dict[str, str] | None = None) -> Path:
    """HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/..."""
    env = dict(os.environ) if env is None else env
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    if env.get("HF_HOME"):
        return Path(env["HF_HOME"]).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(xdg).expanduser() / "huggingface" / "hub"


@dataclass(frozen=True)
class CacheFile:
    repo_type: str  # model, dataset, space
    repo_id: str  # org/name
    revision: str  # commit hash (snapshot folder name)
    path: str  # path inside the repo
    blob: Path  # the file whose bytes are scanned (symlink target)

    @property
    def display(self) -> str:
        return f"hf://{self.repo_type}s/{self.repo_id}@{self.revision[:12]}/{self.path}"


def iter_cache(root: Path) -> Iterator[CacheFile]:
    """Every file of every snapshot, sorted, with its blob resolved."""
    if not root.is_dir():
        return
    for repo_dir in sorted(root.iterdir()):
        kind, sep, rest = repo_dir.name.partition("--")
        if not sep or kind not in _TYPES or not repo_dir.is_dir():
            continue
        repo_id = rest.replace("--", "/")
        snapshots = repo_dir / "snapshots"
        if not snapshots.is_dir():
            continue
        for rev_dir in sorted(snapshots.iterdir()):
            if not rev_dir.is_dir():
                continue
            for dirpath, dirnames, filenames in os.walk(rev_dir):
                dirnames.sort()
                for name in sorted(filenames):
                    full = Path(dirpath) / name
                    blob = full.resolve()
                    if not blob.is_file():
                        continue  # a dangling symlink (interrupted download)
                    rel = full.relative_to(rev_dir).as_posix()
                    yield CacheFile(_TYPES[kind], repo_id, rev_dir.name, rel, blob)
