"""What torchvet gets wrong today, case by case: the lead's work list for issue 8.

Each entry marks a red-team test ``xfail(strict=True)``; when a fix lands the test
passes, strict xfail turns that into a failure, and the entry is removed. Regenerate
the lists with ``python benchmarks/redteam.py --seeded --known-misses``.
"""

from __future__ import annotations

SCAN: dict[str, str] = {}
PROTECTED: dict[str, str] = {}
DOS: dict[str, str] = {}
CHECK: dict[str, str] = {}
