"""What a crawl leaves in its output directory, read back: records, a ``Result`` to inspect (what
the ``crawl`` fixture returns), and saved jobs of ``tests/fixtures`` copied to a test's port."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from selectolax.lexbor import LexborHTMLParser

from crawler.core.request import Counts
from crawler.engine import Crawl
from crawler.observe.metrics import render
from crawler.observe.stats import Stats
from crawler.observe.summary import summary

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def read_records(out: Path) -> list[dict[str, Any]]:
    with open(out / "records.jsonl", "rb") as f:
        return [json.loads(line) for line in f]


def last_stats(out: Path) -> dict[str, Any]:
    """The last line of ``OUT/stats.jsonl`` (a finished or stopped crawl's final one)."""
    return json.loads((out / "stats.jsonl").read_text().splitlines()[-1])


def table(doc: LexborHTMLParser, title: str) -> list[list[str]]:
    """The cells of the report's table under the heading ``title``, row by row."""
    (section,) = [s for s in doc.css("section") if s.css_first("h2").text() == title]
    return [[c.text(strip=True) for c in row.css("td")] for row in section.css("tbody tr")]


def copy_job_fixture(name: str, out: Path, port: int) -> sqlite3.Connection:
    """A job of ``tests/fixtures`` (written on port 8799) copied to ``out``, moved to ``port``; its
    state file open (committed) for the test to look at."""
    shutil.copytree(FIXTURES / name, out)
    (out / "records.jsonl").write_text((out / "records.jsonl").read_text().replace("8799", str(port)))
    (out / "pages" / "old.test_8799").rename(out / "pages" / f"old.test_{port}")
    db = sqlite3.connect(out / "state.sqlite")
    db.execute(
        "UPDATE urls SET url=replace(url, '8799', ?), host=replace(host, '8799', ?), parent=replace(parent, '8799', ?)",
        (str(port),) * 3,
    )
    db.commit()
    return db


class Result:
    """What a test inspects after a crawl: stats, records by URL, the output directory, and when
    each host's slots were given out (``grants``)."""

    def __init__(self, stats: Stats, out: Path, crawl: Crawl, grants: dict[str, list[float]]) -> None:
        self.stats = stats
        self.out = out
        self.crawl = crawl
        self.grants = grants
        self.records = read_records(out)
        self.by_url = {r["url"]: r for r in self.records}

    def summary_lines(self, *starts: str) -> list[str]:
        """The lines of the summary the CLI prints that start with one of ``starts``."""
        return [line for line in summary(self.stats, str(self.out)).splitlines() if line.startswith(starts)]

    def metrics(self) -> dict[str, float]:
        """/metrics at the crawl's end, as prometheus-client reads it: ``name[(label, value)]`` → value."""
        text = render(self.stats, Counts(0, 0, len(self.records)), 0, self.stats.proxies)
        return {
            f"{s.name}{sorted(s.labels.items())}": s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
