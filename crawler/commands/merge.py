"""``crawler merge OUT``: one ``records.jsonl`` (and items, content) for a job whose workers wrote shards.

Each worker writes ``OUT/shards/<worker id>/``. A URL can have more than one record there: a
worker killed after writing a record, before Redis heard the URL was done, leaves a record whose
URL another worker fetched again. The merge keeps one final record per URL and crawl (a re-crawl's
generation): a successful one over a failed one, then the latest; after a re-crawl it also writes
``OUT/changes.jsonl``. Its ``path`` is made relative to ``OUT`` and it names its
``worker``; the items (and content and chunks lines) kept are those of the kept record's shard;
after a re-crawl each URL keeps the content of its latest crawl. Lines torn by a kill are skipped.

Memory holds nothing per URL: which line of which shard wins is worked out in a scratch SQLite
file in ``OUT`` (sorted on disk, deleted after), so millions of records merge in tens of MB (a
dict of a few numbers per URL took 645 MB at a million records).
"""

from __future__ import annotations

import csv
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from crawler.core.records import crawl_of
from crawler.recrawl import changed_urls, write_changes
from crawler.sinks.content import CHUNKS, CONTENT, keep_current

SCRATCH = ".merge.sqlite"
# the records not kept: all but each (url, crawl)'s best, a success over a failure, then the
# latest; of equals, the first read. Only the (url, crawl)s recorded twice are ranked: usually few.
_DROP = """
CREATE TABLE twice AS SELECT url, crawl FROM lines GROUP BY url, crawl HAVING count(*) > 1;
CREATE TABLE dropped AS SELECT shard, line FROM (
    SELECT shard, line,
           row_number() OVER (PARTITION BY l.url, l.crawl ORDER BY ok DESC, fetched_at DESC, shard, line) AS n
    FROM lines l JOIN twice t ON t.url = l.url AND t.crawl = l.crawl
) WHERE n > 1;
CREATE INDEX dropped_at ON dropped (shard, line);
"""
_KEPT_ITEMS = """
SELECT shard, line FROM items i WHERE EXISTS (
    SELECT 1 FROM lines r WHERE r.url = i.url AND r.shard = i.shard
    AND NOT EXISTS (SELECT 1 FROM dropped d WHERE d.shard = r.shard AND d.line = r.line)
) ORDER BY shard, line
"""
Row = TypeVar("Row")


@dataclass(slots=True)
class Merged:
    shards: int
    records: int  # lines read in every shard
    urls: int  # records written: one per URL (and crawl)
    items: int
    torn: int  # lines that were not whole JSON records (a killed worker's last line)

    def summary(self, out: Path) -> str:
        repeats = self.records - self.torn - self.urls
        return (
            f"merged {self.shards} shards: {self.urls} URLs ({repeats} repeated records dropped, "
            f"{self.torn} torn lines skipped), {self.items} items → {out}/records.jsonl"
        )


def merge(out: Path) -> Merged:
    """Write ``OUT/records.jsonl``, ``OUT/items.jsonl``/``items.csv`` and ``OUT/content.jsonl``/
    ``chunks.jsonl`` from the shards."""
    shards = sorted(p for p in (out / "shards").glob("*") if (p / "records.jsonl").is_file())
    read = _Read()
    with _scratch(out / SCRATCH) as db:
        db.execute(
            "CREATE TABLE lines (url TEXT, crawl INTEGER, ok INTEGER, fetched_at TEXT, shard INTEGER, line INTEGER)"
        )
        db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?)", read.records(shards))
        for statement in _DROP.split(";")[:-1]:
            db.execute(statement)
        (dropped,) = db.execute("SELECT count(*) FROM dropped").fetchone()
        (latest,) = db.execute("SELECT max(crawl) FROM lines").fetchone()
        with _atomic(out / "records.jsonl") as f:
            drop = db.execute("SELECT shard, line FROM dropped ORDER BY shard, line")
            for index, line, is_dropped in _marked(shards, _records_of, drop):
                record = None if is_dropped else _record(line)
                if record is None:  # not kept, or torn
                    continue
                if record.get("path"):  # relative to the shard (../<other shard>/… after a 304)
                    record["path"] = os.path.normpath(f"shards/{shards[index].name}/{record['path']}")
                record["worker"] = shards[index].name
                f.write(orjson.dumps(record) + b"\n")
        items = _merge_items(out, shards, db)
    if latest is not None and latest > 1:
        write_changes(out, latest)
    keep_current(out, changed_urls(out) if latest is not None and latest > 1 else set(), latest or 1)
    return Merged(len(shards), read.lines, read.lines - read.torn - dropped, items, read.torn)


class _Read:
    """The shards' record lines as rows of the scratch table ``lines``, counting what was read."""

    def __init__(self) -> None:
        self.lines = self.torn = 0

    def records(self, shards: list[Path]) -> Iterator[tuple[str, int, bool, str, int, int]]:
        for index, shard in enumerate(shards):
            for number, line in enumerate(_records_of(shard)):
                self.lines += 1
                record = _record(line)
                if record is None:
                    self.torn += 1
                    continue
                ok, fetched_at = record.get("error") is None, str(record.get("fetched_at") or "")
                yield str(record["url"]), crawl_of(record), ok, fetched_at, index, number


def _merge_items(out: Path, shards: list[Path], db: sqlite3.Connection) -> int:
    """Items (and content lines) of the records kept: those whose page URL's kept record is in the
    line's shard. Returns the number of items."""
    count = 0
    names = ("items.jsonl", CONTENT, CHUNKS)
    jsonl = [name for name in names if any((s / name).is_file() for s in shards)]
    csv_ = any((s / "items.csv").is_file() for s in shards)
    if jsonl or csv_:
        db.execute("CREATE INDEX lines_url ON lines (url, shard)")
    for name in jsonl:
        with _atomic(out / name) as f:
            for _, (_, line), kept in _kept_items(db, shards, _jsonl_items(name)):
                if kept:
                    f.write(line if line.endswith(b"\n") else line + b"\n")
                    count += name == "items.jsonl"
    if csv_:
        with _atomic(out / "items.csv", text=True) as f:
            writer = None
            for _, (_, row), kept in _kept_items(db, shards, _csv_items):
                if not kept:
                    continue
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                count += 1
    return count


def _kept_items(
    db: sqlite3.Connection, shards: list[Path], rows_of: Callable[[Path], Iterator[tuple[str | None, Row]]]
) -> Iterator[tuple[int, tuple[str | None, Row], bool]]:
    """Every row of ``rows_of`` (page URL, row), and whether its page's kept record is in its shard."""
    db.execute("DROP TABLE IF EXISTS items")
    db.execute("CREATE TABLE items (url TEXT, shard INTEGER, line INTEGER)")
    db.executemany(
        "INSERT INTO items VALUES (?, ?, ?)",
        (
            (url, index, number)
            for index, shard in enumerate(shards)
            for number, (url, _) in enumerate(rows_of(shard))
            if url is not None
        ),
    )
    return _marked(shards, rows_of, db.execute(_KEPT_ITEMS))


def _marked(
    shards: list[Path], rows_of: Callable[[Path], Iterator[Row]], marks: Iterable[tuple[int, int]]
) -> Iterator[tuple[int, Row, bool]]:
    """Every row of the shards, and whether ``marks`` ((shard index, row number), in order) names it."""
    marked = iter(marks)
    mark = next(marked, None)
    for index, shard in enumerate(shards):
        for number, row in enumerate(rows_of(shard)):
            hit = mark == (index, number)
            if hit:
                mark = next(marked, None)
            yield index, row, hit


def _records_of(shard: Path) -> Iterator[bytes]:
    return _lines(shard / "records.jsonl")


def _jsonl_items(name: str) -> Callable[[Path], Iterator[tuple[str | None, bytes]]]:
    """The reader of a shard's ``name`` (items.jsonl, content.jsonl…): each line with its page URL
    (None: a torn line)."""

    def lines(shard: Path) -> Iterator[tuple[str | None, bytes]]:
        for line in _lines(shard / name):
            item = _record(line, key="url")
            yield (str(item["url"]) if item is not None else None), line

    return lines


def _csv_items(shard: Path) -> Iterator[tuple[str | None, dict[str, str]]]:
    path = shard / "items.csv"
    if path.is_file():
        with open(path, newline="", encoding="utf-8") as src:
            for row in csv.DictReader(src):
                yield row.get("url"), row


@contextmanager
def _scratch(path: Path) -> Iterator[sqlite3.Connection]:
    """A scratch database at ``path`` (a killed merge's is replaced), deleted when done. Nothing
    in it needs to survive a crash: no journal, no syncs, one transaction never committed."""
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-32768")  # KiB: the sorts spill to disk past this
        db.execute("BEGIN")
        yield db
    finally:
        db.close()
        path.unlink(missing_ok=True)


@contextmanager
def _atomic(path: Path, text: bool = False) -> Iterator[IO[Any]]:
    """A file written next to ``path`` and moved over it only when whole."""
    tmp = path.with_name(f".{path.name}.merging")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") if text else open(tmp, "wb") as f:
            yield f
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def _lines(path: Path) -> Iterator[bytes]:
    if path.is_file():
        with open(path, "rb") as f:
            yield from f


def _record(line: bytes, key: str = "url") -> dict[str, object] | None:
    """The line's JSON object if it is a whole one with a string ``key``; None for a torn line."""
    if not line.endswith(b"\n"):
        return None
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and isinstance(value.get(key), str) else None
