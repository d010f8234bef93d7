"""The Hugging Face hub cache: which files belong to which repo id and revision.

Layout (huggingface_hub): ``<cache>/<type>s--<org>--<name>/snapshots/<revision>/<path>``,
where each file is usually a symlink into ``<type>s--<org>--<name>/blobs/<sha>``. Several
revisions share blobs, so each blob is scanned once and reported for every reference.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torchvet.policy.judge import Policy
    from torchvet.results import ScanResult

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
    blob: Path  # where the bytes are (symlink target)
    snapshot: Path  # the file under snapshots/: its name is the one loaders see

    @property
    def display(self) -> str:
        """The file as an ``hf://`` URL that ``torchvet scan`` accepts (models need no
        prefix; datasets and spaces do), pinned to the cached commit."""
        kind = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"hf://{kind}{self.repo_id}@{self.revision}/{self.path}"


def cache_repos(directory: Path) -> list[Path] | None:
    """The repo folders ``directory`` names: a hub cache (``models--org--name`` folders
    inside), an HF_HOME (with ``hub/`` inside), or one repo folder. None if none of these."""
    if _repo_type(directory) is not None:
        return [directory]
    for root in (directory, directory / "hub"):
        if root.is_dir():
            repos = [d for d in sorted(root.iterdir()) if _repo_type(d) is not None]
            if repos:
                return repos
    return None


def _repo_type(path: Path) -> str | None:
    return _type_of(path.name) if path.is_dir() else None


def _type_of(folder: str) -> str | None:
    """``models--org--name`` -> "model"; None for a name that is no repo folder."""
    kind, sep, _ = folder.partition("--")
    return _TYPES.get(kind) if sep else None


def is_blob(path: str) -> bool:
    """``.../models--ORG--NAME/blobs/<sha>``: bytes whose names are their snapshot links."""
    parts = PurePath(path).parts
    return len(parts) >= 3 and parts[-2] == "blobs" and _type_of(parts[-3]) is not None


def iter_cache(root: Path) -> Iterator[CacheFile]:
    """Every file of every snapshot, sorted, with its blob resolved."""
    yield from iter_repos(cache_repos(root) or [])


def iter_repos(repos: list[Path]) -> Iterator[CacheFile]:
    for repo_dir in repos:
        kind = _repo_type(repo_dir)
        if kind is None:
            continue
        repo_id = repo_dir.name.partition("--")[2].replace("--", "/")
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
                    yield CacheFile(kind, repo_id, rev_dir.name, rel, blob, full)


def scan_cache(repos: list[Path], policy: Policy, skipped: list[str]) -> Iterator[ScanResult]:
    """Scan each blob once per name it is known by (the name decides what torch.load does
    with it: a *.safetensors path goes to safetensors) and report it under every
    repo/revision/path that references it. Files that are not models go to ``skipped``."""
    from torchvet.check.detect import model_reason
    from torchvet.scan import scan_file

    done: dict[tuple[Path, bool], ScanResult | None] = {}
    for ref in iter_repos(repos):
        key = (ref.blob, ref.path.endswith(".safetensors"))
        if key not in done:
            is_model = model_reason(str(ref.snapshot)) is not None
            done[key] = scan_file(ref.snapshot, policy=policy) if is_model else None
        result = done[key]
        if result is None:
            skipped.append(ref.display)
            continue
        yield replace(result, path=ref.display)
