#!/usr/bin/env python3
"""Compare main-content extractors and HTML-to-Markdown converters (study for issue 27).

Three measurements, each over a fixed, deterministic page set, one library at a time:

* ``quality``: word-level bag-of-words precision / recall / F1 of each extractor's main text
  against public ground truth (Mozilla Readability test pages; scrapinghub's
  article-extraction-benchmark), plus CPU ms per page on those pages.
* ``cost``: CPU ms per page (time.process_time) on 300 pages of the local docs corpus
  (the HTML files behind /work/shared/bench/corpus.sh, read straight from disk).
* ``fidelity``: on ~30 Python docs pages, does every ``<pre>`` of the main region come out as a
  fenced code block with identical text, and does every table row come out as a GFM table row
  with the same cells?

The datasets are read from bare git mirrors (``fetch`` of the public repositories); nothing is
downloaded here. Example::

    /tmp/v27/bin/python benchmarks/content/compare_extractors.py quality --json q.json
    /tmp/v27/bin/python benchmarks/content/compare_extractors.py cost --pages 300
    /tmp/v27/bin/python benchmarks/content/compare_extractors.py fidelity --pages 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks.content
from benchmarks.content import datasets as ds
from benchmarks.content.datasets import Page
from benchmarks.content.fidelity import Fidelity, check_fidelity
from benchmarks.content.metrics import p95, prf
from benchmarks.content.registry import PARSE_ONLY, make_extractors, pick
from benchmarks.content.runner import Run, run_one

DISTRIBUTIONS = (
    "trafilatura",
    "resiliparse",
    "readability-lxml",
    "html-to-markdown",
    "markdownify",
    "justext",
    "inscriptis",
    "newspaper4k",
    "lxml",
    "selectolax",
    "beautifulsoup4",
)


def versions() -> dict[str, str]:
    """Library versions, stored with the numbers they produced."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {"python": sys.version.split()[0]}
    for dist in DISTRIBUTIONS:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def dataset_info(pages: dict[str, list[Page]]) -> dict[str, Any]:
    """Which commit of each ground-truth repository was scored, and how many of its pages."""
    return {
        "readability": {
            "repo": "mozilla/readability",
            "commit": ds.git_head(ds.READABILITY_REPO),
            "pages": len(pages["readability"]),
        },
        "scrapinghub": {
            "repo": "scrapinghub/article-extraction-benchmark",
            "commit": ds.git_head(ds.SCRAPINGHUB_REPO),
            "pages": len(pages["scrapinghub"]),
        },
        "bevendorff": {
            "repo": "chatnoir-eu/web-content-extraction-benchmark",
            "commit": ds.git_head(ds.BEVENDORFF_REPO),
            "status": ds.bevendorff_status(),
        },
    }


def quality_row(run: Run, pages: list[Page]) -> dict[str, Any]:
    """One extractor on one dataset: F1 summary, per-page F1 (to find its failures), CPU cost."""
    scores = [prf(o, p.truth) for o, p in zip(run.outputs, pages, strict=True)]
    f1s = [s[2] for s in scores]
    return {
        "f1_mean": statistics.mean(f1s),
        "f1_median": statistics.median(f1s),
        "p_mean": statistics.mean(s[0] for s in scores),
        "r_mean": statistics.mean(s[1] for s in scores),
        "ge_095": sum(f >= 0.95 for f in f1s),
        "errors": run.errors,
        "empty": sum(not o.strip() for o in run.outputs),
        "cpu_ms_mean": statistics.mean(run.cpu_ms),
        "cpu_ms_p95": p95(run.cpu_ms),
        "per_page_f1": {p.name: round(f, 4) for p, f in zip(pages, f1s, strict=True)},
    }


def cmd_quality(args: argparse.Namespace) -> dict[str, Any]:
    datasets = {
        "readability": ds.load_readability(args.limit),
        "scrapinghub": ds.load_scrapinghub(args.limit),
    }
    result: dict[str, Any] = {"datasets": dataset_info(datasets), "extractors": {}}
    for ex in pick(make_extractors(), args.only):
        row: dict[str, Any] = {}
        for name, pages in datasets.items():
            run = run_one(ex.run, pages)
            r = row[name] = quality_row(run, pages)
            print(
                f"{ex.name:26} {name:12} F1 mean {r['f1_mean']:.3f} median "
                f"{r['f1_median']:.3f}  P {r['p_mean']:.3f} R {r['r_mean']:.3f}  "
                f"cpu {r['cpu_ms_mean']:.1f} ms (p95 {r['cpu_ms_p95']:.1f})  "
                f"err {run.errors}",
                flush=True,
            )
        result["extractors"][ex.name] = row
    return result


def cmd_cost(args: argparse.Namespace) -> dict[str, Any]:
    pages = ds.load_docs(args.pages)
    exs = [PARSE_ONLY, *pick(make_extractors(), args.only)]
    result: dict[str, Any] = {
        "pages": len(pages),
        "sites": dict(Counter(p.dataset for p in pages)),
        "bytes_mean": statistics.mean(len(p.html) for p in pages),
        "extractors": {},
    }
    for ex in exs:
        run = run_one(ex.run, pages)
        r = result["extractors"][ex.name] = {
            "cpu_ms_mean": statistics.mean(run.cpu_ms),
            "cpu_ms_p95": p95(run.cpu_ms),
            "cpu_ms_max": max(run.cpu_ms),
            "errors": run.errors,
            "tree": ex.tree,
            "empty": sum(not o.strip() for o in run.outputs),
        }
        print(
            f"{ex.name:26} cpu {r['cpu_ms_mean']:.1f} ms p95 {r['cpu_ms_p95']:.1f} max "
            f"{r['cpu_ms_max']:.0f}  err {run.errors} empty {r['empty']}",
            flush=True,
        )
    return result


def cmd_fidelity(args: argparse.Namespace) -> dict[str, Any]:
    pages = ds.load_python_fidelity(args.pages)
    result: dict[str, Any] = {"pages": [p.name for p in pages], "extractors": {}}
    for ex in pick(make_extractors(), args.only):
        if not ex.markdown:
            continue
        run = run_one(ex.run, pages)
        fid = Fidelity()
        for p, md in zip(pages, run.outputs, strict=True):
            check_fidelity(p, md, fid)
        result["extractors"][ex.name] = fid.__dict__ | {
            "errors": run.errors,
            "cpu_ms_mean": statistics.mean(run.cpu_ms),
        }
        print(
            f"{ex.name:26} pre pages {fid.pages_pre_ok}/{fid.pages} blocks {fid.pre_ok}/"
            f"{fid.pre_total} (ws-equal {fid.pre_ok_ws}) lang {fid.fences_with_lang}  tables "
            f"pages {fid.pages_tables_ok}/{fid.pages_with_tables} tables {fid.tables_ok}/"
            f"{fid.tables_total}  err {run.errors}",
            flush=True,
        )
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality", help="F1 against ground truth + CPU cost on those pages")
    q.add_argument("--limit", type=int, default=None, help="at most N pages per dataset")
    c = sub.add_parser("cost", help="CPU ms per page on the local docs corpus")
    c.add_argument("--pages", type=int, default=300)
    f = sub.add_parser("fidelity", help="<pre> and table fidelity of Markdown on Python docs pages")
    f.add_argument("--pages", type=int, default=30)
    for s in (q, c, f):
        s.add_argument("--only", help="comma-separated extractor names")
        s.add_argument("--json", type=Path, help="write the full result here")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.process_time()
    result = {"quality": cmd_quality, "cost": cmd_cost, "fidelity": cmd_fidelity}[args.cmd](args)
    result["versions"] = versions()
    result["total_cpu_s"] = time.process_time() - t0
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
