"""The model part of ``torchvet check`` for URLs: each file scanned as ``torchvet scan
URL`` scans it (folders, prefixes and repos listed; their model files only)."""

from __future__ import annotations

from torchvet.check.runner import CheckRun, ModelOutcome, WorkerSetup
from torchvet.policy.judge import Policy


def scan_urls(run: CheckRun, urls: list[str], setup: WorkerSetup) -> None:
    """Add a model outcome per remote model file to ``run`` (``--max-size`` does not
    apply: a remote scan costs the checkpoint's pickles, not its size)."""
    from torchvet.many import scan_many

    policy = Policy.for_torch(setup.torch_version, setup.allow)
    try:
        for result in scan_many(urls, policy=policy):
            run.models.append(ModelOutcome(result.path, "remote", result))
            run.candidates += 1
            run.total += 1
            run.done += 1
    except KeyboardInterrupt:
        run.interrupted = True
    run.models.sort(key=lambda m: m.path)
