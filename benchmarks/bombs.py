"""Resource bombs: files of at most 1 MB that make a scanner (or a loader) work far out
of proportion to their size, one family per way of doing it.

    python benchmarks/bombs.py                       # torchvet only, table on stdout
    python benchmarks/bombs.py --tools all --before OLD_CHECKOUT --out bombs.md

Each family (``bomb_families.py``) is generated in memory (nothing is downloaded, nothing
is ever loaded), written to a work directory, and scanned by each tool as a whole process
(``measure.run``: CPU and wall time and peak RSS of the process tree, a timeout kills it);
``--before`` adds torchvet from another checkout, for a before/after table. torchvet must stay within
5 s and 256 MiB on every family and answer a non-safe verdict; the peers are run on the
same files for comparison. ``FAMILIES`` is also what the test suite scans (memory only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bomb_families import FAMILIES, write_all  # noqa: E402

__all__ = ["FAMILIES", "main", "write_all"]


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(HERE))
    import measure
    import peers

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tools", default="torchvet", help="comma-separated, or 'all'")
    p.add_argument("--families", default="", help="comma-separated subset")
    p.add_argument("--work-dir", type=Path, default=HERE / ".work" / "bombs")
    p.add_argument("--out", type=Path, help="write the Markdown section here (+ .json)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per process")
    p.add_argument("--torchvet-repo", type=Path, default=HERE.parent)
    p.add_argument("--python", type=Path, default=Path(sys.executable))
    p.add_argument("--peer-venvs", type=Path, default=Path("/work/peer-venvs"))
    p.add_argument("--before", type=Path, help="also run torchvet from this checkout")
    args = p.parse_args(argv)
    names = [n for n in args.families.split(",") if n]
    paths = write_all(args.work_dir, names)
    tool_names = (
        ["torchvet", "picklescan", "modelscan", "fickling", "modelaudit"]
        if args.tools == "all"
        else args.tools.split(",")
    )
    ctx = peers.Context(args.peer_venvs, args.torchvet_repo, args.python)
    tools = [t for t in peers.make_tools(tool_names, ctx) if t.unavailable_reason() is None]
    if args.before:
        before = peers.Torchvet(peers.Context(args.peer_venvs, args.before, args.python))
        before.name = "torchvet-before"
        tools.insert(1, before)
    rows = []
    for name, path in paths.items():
        row = {"family": name, "size": path.stat().st_size}
        for tool in tools:
            res, parsed = tool.run([path], timeout_s=args.timeout)
            row[tool.name] = {
                "wall_s": round(res.wall_s, 2),
                "cpu_s": round(float(res.extra.get("cpu_s", 0.0)), 2),  # type: ignore[arg-type]
                "rss_mib": round(res.max_rss_kib / 1024),
                "outcome": parsed.outcome,
                "detail": parsed.detail[:60],
            }
        rows.append(row)
        print(json.dumps(row), flush=True)
    text = _table(rows, [t.name for t in tools])
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    del measure
    return 0


def _table(rows: list[dict], tools: list[str]) -> str:
    head = "| family | size | " + " | ".join(f"{t} s / MiB / verdict" for t in tools) + " |"
    # s: CPU seconds of the process tree (wall seconds when the tool timed out)
    lines = [head, "|" + " --- |" * (2 + len(tools))]
    for row in rows:
        cells = []
        for t in tools:
            r = row[t]
            verdict = (r["detail"] or r["outcome"])[:28]
            timed_out = verdict.startswith("timeout")
            seconds = f">{r['wall_s']:.0f}" if timed_out else f"{r.get('cpu_s', r['wall_s'])}"
            rss = "?" if timed_out else r["rss_mib"]
            cells.append(f"{seconds} / {rss} / {verdict}")
        size = f"{row['size'] / 1024:.0f} KiB" if row["size"] >= 1024 else f"{row['size']} B"
        lines.append(f"| {row['family']} | {size} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
