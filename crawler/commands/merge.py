"""``crawler merge OUT``: one ``records.jsonl`` (and items) for a job whose workers wrote shards.

Each worker writes ``OUT/shards/<worker id>/``. A URL can have more than one record there: a
worker killed after writing a record, before Redis heard the URL was done, leaves a record whose
URL another worker fetched again. The merge keeps one final record per URL and crawl (a re-crawl's
generation): a successful one over a failed one, then the latest; after a re-crawl it also writes
``OUT/changes.jsonl``. Its ``path`` is made relative to ``OUT`` and it names its
``worker``; the items kept are those of the kept record's shard. Lines torn by a kill are skipped.

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
from crawler.recrawl import write_changes

SCRATCH = ".merge.sqlite"
# each (url, crawl)'s winner: a success over a failure, then the latest; of equals, the first read
_KEEP = """
CREATE TABLE kept AS SELECT url, crawl, shard, line FROM (
    SELECT url, crawl, shard, line,
           row_number() OVER (PARTITION BY url, crawl ORDER BY rank DESC, shard, line) AS n
    FROM lines
) WHERE n = 1
"""
_KEPT_ITEMS = """
SELECT shard, line FROM items i WHERE EXISTS (SELECT 1 FROM kept k WHERE k.url = i.url AND k.shard = i.shard)
ORDER BY shard, line
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
    """Write ``OUT/records.jsonl`` and ``OUT/items.jsonl``/``items.csv`` from the shards."""
    shards = sorted(p for p in (out / "shards").glob("*") if (p / "records.jsonl").is_file())
    read = _Read()
    with _scratch(out / SCRATCH) as db:
        db.execute("CREATE TABLE lines (url TEXT, crawl INTEGER, rank TEXT, shard INTEGER, line INTEGER)")
        db.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?)", read.records(shards))
        db.execute(_KEEP)
        urls, latest = db.execute("SELECT count(*), max(crawl) FROM kept").fetchone()
        kept = db.execute("SELECT shard, line FROM kept ORDER BY shard, line")
        with _atomic(out / "records.jsonl") as f:
            for index, line in _picked(shards, _records_of, kept):
                record = orjson.loads(line)
                if record.get("path"):  # relative to the shard (../<other shard>/… after a 304)
                    record["path"] = os.path.normpath(f"shards/{shards[index].name}/{record['path']}")
                record["worker"] = shards[index].name
                f.write(orjson.dumps(record) + b"\n")
        items = _merge_items(out, shards, db)
    if latest is not None and latest > 1:
        write_changes(out, latest)
    return Merged(len(shards), read.lines, urls, items, read.torn)


class _Read:
    """The shards' record lines as rows of the scratch table ``lines``, counting what was read."""

    def __init__(self) -> None:
        self.lines = self.torn = 0

    def records(self, shards: list[Path]) -> Iterator[tuple[str, int, str, int, int]]:
        for index, shard in enumerate(shards):
            for number, line in enumerate(_records_of(shard)):
                self.lines += 1
                record = _record(line)
                if record is None:
                    self.torn += 1
                    continue
                rank = ("1" if record.get("error") is None else "0") + str(record.get("fetched_at") or "")
                yield str(record["url"]), crawl_of(record), rank, index, number


def _merge_items(out: Path, shards: list[Path], db: sqlite3.Connection) -> int:
    """Items of the records kept: those whose page URL's kept record is in the item's shard."""
    count = 0
    jsonl, csv_ = (any((s / name).is_file() for s in shards) for name in ("items.jsonl", "items.csv"))
    if jsonl or csv_:
        db.execute("CREATE INDEX kept_url ON kept (url, shard)")
    if jsonl:
        with _atomic(out / "items.jsonl") as f:
            for _, (_, line) in _kept_items(db, shards, _jsonl_items):
                f.write(line if line.endswith(b"\n") else line + b"\n")
                count += 1
    if csv_:
        with _atomic(out / "items.csv", text=True) as f:
            writer = None
            for _, (_, row) in _kept_items(db, shards, _csv_items):
                if writer is None:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    writer.writeheader()
                writer.writerow(row)
                count += 1
    return count


def _kept_items(
    db: sqlite3.Connection, shards: list[Path], rows_of: Callable[[Path], Iterator[tuple[str | None, Row]]]
) -> Iterator[tuple[int, tuple[str | None, Row]]]:
    """The rows of ``rows_of`` (page URL, row) whose page's kept record is in their shard, in order."""
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
    return _picked(shards, rows_of, db.execute(_KEPT_ITEMS))


def _picked(
    shards: list[Path], rows_of: Callable[[Path], Iterator[Row]], wanted: Iterable[tuple[int, int]]
) -> Iterator[tuple[int, Row]]:
    """The rows ``wanted`` ((shard index, row number), in order), read again from the shards."""
    want = iter(wanted)
    nxt = next(want, None)
    for index, shard in enumerate(shards):
        if nxt is None:
            return
        if nxt[0] != index:
            continue
        for number, row in enumerate(rows_of(shard)):
            if number == nxt[1]:
                yield index, row
                nxt = next(want, None)
                if nxt is None or nxt[0] != index:
                    break


def _records_of(shard: Path) -> Iterator[bytes]:
    return _lines(shard / "records.jsonl")


def _jsonl_items(shard: Path) -> Iterator[tuple[str | None, bytes]]:
    """Each line of the shard's items.jsonl with its page URL (None: a torn line)."""
    for line in _lines(shard / "items.jsonl"):
        item = _record(line, key="url")
        yield (str(item["url"]) if item is not None else None), line


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
