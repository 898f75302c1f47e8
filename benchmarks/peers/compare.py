"""Run ../shared/bench/compare.sh once and write its table, with ratios, to benchmarks/results/.

Usage: python benchmarks/peers/compare.py [--crawler PATH] [--label TEXT] [SITES...]
  Needs the corpus running (../shared/bench/corpus.sh start). All runners are measured in the same
  invocation, so their ratios are comparable even on a noisy machine. The crawler's output is also
  checked against the served files (benchmarks/peers/verify_corpus.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SHARED = Path(os.environ.get("SHARED", ROOT.parent / "shared"))
LINE = re.compile(
    r"^(?P<name>\S+)\s+rc=(?P<rc>\d+)\s+(?P<secs>[\d.]+)s\s+peak_rss=\s*(?P<mb>\d+) MB\s+"
    r"cpu=\s*(?P<cpu>[\d.]+)s\s+pages200=(?P<pages>\d+)"
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    ap.add_argument("--label", default="")
    ap.add_argument("sites", nargs="*")
    args = ap.parse_args()
    env = {**os.environ, "CRAWLER": args.crawler}
    cmd = ["bash", str(SHARED / "bench/compare.sh"), *args.sites]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    rows = {m["name"]: m.groupdict() for m in map(LINE.match, run.stdout.splitlines()) if m}
    if "crawler" not in rows:
        print(run.stdout, run.stderr, file=sys.stderr)
        return 1
    outdir = run.stdout.rsplit("outputs in ", 1)[-1].strip()
    check = subprocess.run(
        [sys.executable, str(HERE / "verify_corpus.py"), f"{outdir}/crawler"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    report = render(rows, args, check)
    stamp = dt.datetime.now().strftime("%Y-%m-%d-%H%M")
    target = ROOT / "benchmarks" / "results" / f"{stamp}{'-' + args.label if args.label else ''}.md"
    target.parent.mkdir(exist_ok=True)
    target.write_text(report)
    print(report)
    print(f"written to {target.relative_to(ROOT)}")
    return 0


def render(rows: dict[str, dict[str, str]], args: argparse.Namespace, check: str) -> str:
    ceiling = float(rows["ceiling"]["secs"]) if "ceiling" in rows else None
    ours = float(rows["crawler"]["secs"])
    lines = [
        f"# compare.sh run {dt.datetime.now():%Y-%m-%d %H:%M} {args.label}".rstrip(),
        "",
        f"Command: `CRAWLER={args.crawler} python benchmarks/peers/compare.py {' '.join(args.sites)}`"
        f" (compare.sh defaults: C=32, P=8, sites {' '.join(args.sites) or 'python postgres django'})",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"commit {git_rev()}",
        "",
        "| runner | wall s | pages/s | speed vs ceiling | ours is N× faster | peak RSS MB | CPU s | pages 200 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        secs = float(r["secs"])
        rate = int(r["pages"]) / secs if secs else 0
        vs_ceiling = f"{ceiling / secs:.2f}×" if ceiling else "n/a"
        lines.append(
            f"| {name} | {secs:.2f} | {rate:.0f} | {vs_ceiling} | {secs / ours:.1f}× | "
            f"{r['mb']} | {r['cpu']} | {r['pages']} |"
        )
    lines += [
        "",
        "The crawler's peak RSS is its largest process (GNU time): the crawler or its parser "
        "process. Both together: `benchmarks/scenarios/memory.py` (124 MB PSS on this corpus).",
        "",
        f"Output check (verify_corpus.py): {check}",
        "",
    ]
    return "\n".join(lines)


def git_rev() -> str:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
