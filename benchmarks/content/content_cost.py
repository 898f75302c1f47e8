#!/usr/bin/env python3
"""CPU milliseconds per page of ``extract_content`` on the docs corpus's pages, read from disk
(a study for issue 27's speed goal: what a build of ``crawler.content`` costs, compiled or not).

Every 1/300th HTML file of each site that ``corpus.sh`` serves (python, postgres, django: about
1,270 pages) is parsed with lexbor, then ``extract_content`` runs with the settings of a crawl
with ``--content markdown`` (Markdown, SimHash); only that call is timed (``time.process_time``).
One warm-up round (the SimHash word cache fills as in a crawl), then ``ROUNDS`` timed rounds. With
``OUT``, the warm-up round's (Markdown, SimHash, words) per page are pickled there, to check that
two builds give the same output. The ``crawler`` package imported is whichever comes first on
``sys.path`` (``PYTHONPATH=copy``: a compiled copy). Example::

    python benchmarks/content/content_cost.py 3 /tmp/plain.pkl
"""

from __future__ import annotations

import pickle
import statistics
import sys
import time
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

import crawler.content.extract as extract
from crawler.content.settings import ContentSettings

ROOTS = (
    "/usr/share/doc/python3-doc/html",
    "/usr/share/doc/postgresql-doc-15/html",
    "/usr/share/doc/python-django-doc/html",
)
SETTINGS = ContentSettings(markdown=True, text=False, simhash=True)


def corpus_pages(per_site: int = 300) -> list[bytes]:
    """About ``per_site`` HTML files of each site, evenly spaced in sorted order."""
    pages: list[bytes] = []
    for root in ROOTS:
        files = sorted(Path(root).rglob("*.html"))
        pages += [f.read_bytes() for f in files[:: max(1, len(files) // per_site)]]
    return pages


def one_round(pages: list[bytes], keep: list[tuple[str | None, int | None, int]] | None = None) -> float:
    """CPU seconds of extract_content over the pages (their parse not counted)."""
    spent = 0.0
    for body in pages:
        tree = LexborHTMLParser(body)
        start = time.process_time()
        content = extract.extract_content(tree, "http://x.test/a.html", "http://x.test/a.html", SETTINGS)
        spent += time.process_time() - start
        if keep is not None:
            keep.append((content.markdown, content.simhash, content.words))
    return spent


def main(rounds: int, out: str | None) -> None:
    pages = corpus_pages()
    kept: list[tuple[str | None, int | None, int]] = []
    one_round(pages, kept)
    if out:
        Path(out).write_bytes(pickle.dumps(kept))
    ms = [1000 * one_round(pages) / len(pages) for _ in range(rounds)]
    each = " ".join(f"{m:.3f}" for m in ms)
    print(f"{extract.__file__}: {len(pages)} pages, ms/page {each}, median {statistics.median(ms):.3f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3, sys.argv[2] if len(sys.argv) > 2 else None)
