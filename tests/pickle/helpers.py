"""Small helpers for scanner unit tests."""

from __future__ import annotations

from torchvet.containers.base import ScanContext
from torchvet.pickle.machine import Limits, run_stream
from torchvet.pickle.trace import IssueKind, StreamTrace
from torchvet.policy.judge import Policy

POLICY = Policy.for_torch("2.13.0")
CTX = ScanContext(POLICY)


def run(data: bytes, limits: Limits | None = None) -> StreamTrace:
    return run_stream(data, "test.pkl", CTX.naming, None, 0, limits or Limits(), CTX.knowledge)


def kinds(trace: StreamTrace) -> set[IssueKind]:
    return {i.kind for i in trace.issues()}
