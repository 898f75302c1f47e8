"""Draw pages/s and peak RSS per runner from a compare.py result into a PNG.

Usage: python benchmarks/peers/chart.py [RESULT.md] [OUT.png]
  RESULT.md defaults to the newest file in benchmarks/results/, OUT.png to the same name .png.
  Needs matplotlib (pip install '.[bench]').
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent


def read_table(path: Path) -> list[tuple[str, float, float]]:
    """(runner, pages/s, peak RSS MB) rows of a compare.py result file."""
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 8 and cells[1].replace(".", "").isdigit():
            rows.append((cells[0], float(cells[2]), float(cells[5])))
    return rows


def main(result: Path, out: Path) -> None:
    rows = read_table(result)
    names = [r[0] for r in rows]
    colors = ["#4c72b0" if n == "crawler" else "#9aa5b1" for n in names]
    fig, (speed, rss) = plt.subplots(1, 2, figsize=(9, 3.6))
    speed.bar(names, [r[1] for r in rows], color=colors)
    speed.set_title("pages per second (higher is better)")
    rss.bar(names, [r[2] for r in rows], color=colors)
    rss.set_title("peak RSS, MB (lower is better)")
    rss.set_xlabel("crawler: its largest process (with a parser process: see benchmarks/README.md)", fontsize=7)
    for ax in (speed, rss):
        for patch in ax.patches:
            ax.annotate(
                f"{patch.get_height():.0f}",
                (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    fig.suptitle(f"compare.sh, one run: {result.stem}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"written to {out}")


if __name__ == "__main__":
    latest = sorted((HERE.parent / "results").glob("*.md"))[-1]
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else latest
    main(src, Path(sys.argv[2]) if len(sys.argv) > 2 else src.with_suffix(".png"))
