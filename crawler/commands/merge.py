"""``crawler merge OUT``: one ``records.jsonl`` (and items) for a job whose workers wrote shards.

Each worker writes ``OUT/shards/<worker id>/``. A URL can have more than one record there: a
worker killed after writing a record, before Redis heard the URL was done, leaves a record whose
URL another worker fetched again. The merge keeps one final record per URL and crawl (a re-crawl's
generation): a successful one over a failed one, then the latest; after a re-crawl it also writes
``OUT/changes.jsonl``. Its ``path`` is made relative to ``OUT`` and it names its
``worker``; the items kept are those of the kept record's shard. Lines torn by a kill are skipped.
Memory holds a few numbers per URL, not the records.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from crawler.core.records import crawl_of
from crawler.recrawl import write_changes


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
    best: dict[tuple[str, int], tuple[tuple[bool, str], int, int]] = {}  # (url, crawl) → (rank, shard, line)
    records = torn = 0
    for index, shard in enumerate(shards):
        for number, line in enumerate(_lines(shard / "records.jsonl")):
            records += 1
            record = _record(line)
            if record is None:
                torn += 1
                continue
            rank = (record.get("error") is None, str(record.get("fetched_at") or ""))
            key = (str(record["url"]), crawl_of(record))
            if key not in best or rank > best[key][0]:
                best[key] = (rank, index, number)
    keep: list[set[int]] = [set() for _ in shards]  # line numbers kept, per shard
    for _, index, number in best.values():
        keep[index].add(number)
    kept_urls: list[set[str]] = [set() for _ in shards]
    with _atomic(out / "records.jsonl") as f:
        for index, shard in enumerate(shards):
            for number, line in enumerate(_lines(shard / "records.jsonl")):
                if number in keep[index]:
                    record = orjson.loads(line)
                    if record.get("path"):  # relative to the shard (../<other shard>/… after a 304)
                        record["path"] = os.path.normpath(f"shards/{shard.name}/{record['path']}")
                    record["worker"] = shard.name
                    kept_urls[index].add(record["url"])
                    f.write(orjson.dumps(record) + b"\n")
    items = _merge_items(out, shards, kept_urls)
    latest = max((crawl for _, crawl in best), default=1)
    if latest > 1:
        write_changes(out, latest)
    return Merged(len(shards), records, len(best), items, torn)


def _merge_items(out: Path, shards: list[Path], kept_urls: list[set[str]]) -> int:
    """Items of the records kept: those whose page URL's kept record is in the item's shard."""
    count = 0
    if any((s / "items.jsonl").is_file() for s in shards):
        with _atomic(out / "items.jsonl") as f:
            for shard, urls in zip(shards, kept_urls, strict=True):
                for line in _lines(shard / "items.jsonl"):
                    item = _record(line, key="url")
                    if item is not None and item["url"] in urls:
                        f.write(line if line.endswith(b"\n") else line + b"\n")
                        count += 1
    if any((s / "items.csv").is_file() for s in shards):
        count += _merge_csv(out, shards, kept_urls)
    return count


def _merge_csv(out: Path, shards: list[Path], kept_urls: list[set[str]]) -> int:
    count = 0
    with _atomic(out / "items.csv", text=True) as f:
        writer = None
        for shard, urls in zip(shards, kept_urls, strict=True):
            path = shard / "items.csv"
            if not path.is_file():
                continue
            with open(path, newline="", encoding="utf-8") as src:
                for row in csv.DictReader(src):
                    if row.get("url") not in urls:
                        continue
                    if writer is None:
                        writer = csv.DictWriter(f, fieldnames=list(row))
                        writer.writeheader()
                    writer.writerow(row)
                    count += 1
    return count


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
