"""Write the whole test corpus to DIR, judge it with real torch, print a table.

    python scripts/build_corpus.py DIR [--no-oracle]

Also writes DIR/manifest.json: every record with torch's verdicts, for benchmarks.
Malicious payloads only ever run in subprocesses under DIR and only create marker files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus.build import Corpus, build_corpus


def manifest(corpus: Corpus) -> list[dict]:
    rows = []
    for rec in corpus.files:
        row = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(rec).items()}
        row["path"] = str(rec.path.relative_to(corpus.root))
        if rec.id in corpus.weights_only:
            row["weights_only"] = dataclasses.asdict(corpus.weights_only[rec.id])
        if rec.id in corpus.weights_only_allowed:
            row["weights_only_allowed"] = dataclasses.asdict(corpus.weights_only_allowed[rec.id])
        if rec.id in corpus.fires:
            row["fired"] = dataclasses.asdict(corpus.fires[rec.id])
        rows.append(row)
    return rows


def table(corpus: Corpus) -> str:
    lines = [f"{'id':58} {'kind':9} {'container':19} {'bytes':>6}  {'weights_only':40} fired"]
    for rec in corpus.files:
        res = corpus.weights_only.get(rec.id)
        verdict = "" if res is None else ("accepted" if res.ok else f"{res.error_type}")
        if res is not None and not res.ok and res.detail:
            verdict += ": " + res.detail
        fired = corpus.fires.get(rec.id)
        lines.append(
            f"{rec.id[:58]:58} {rec.kind:9} {rec.container:19} {rec.path.stat().st_size:6d}  "
            f"{verdict[:40]:40} {'' if fired is None else ('yes' if fired.fired else 'no')}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--no-oracle", action="store_true", help="only write the files")
    args = parser.parse_args(argv)
    start = time.monotonic()
    corpus = build_corpus(args.dir.resolve(), oracle=not args.no_oracle)
    elapsed = time.monotonic() - start
    (args.dir / "manifest.json").write_text(json.dumps(manifest(corpus), indent=1))
    print(table(corpus))
    accepted = sum(r.ok for r in corpus.weights_only.values())
    fired = sum(r.fired for r in corpus.fires.values())
    print(
        f"\n{len(corpus.benign)} benign, {len(corpus.malicious)} malicious files in {args.dir}; "
        f"weights_only accepted {accepted}; payloads fired {fired}; {elapsed:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
