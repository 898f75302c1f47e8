"""Resume-time repair of the line files a crash or a stray edit can damage.

``records.jsonl``, ``items.jsonl`` and ``items.csv`` are appended to in whole lines, but a kill -9
can tear the last one, and a file edited or corrupted by hand can hold bad lines anywhere. A
resumed crawl must not die on them: bad lines are moved to ``<file>.damaged`` (appended, so nothing
is ever lost), the file keeps its good lines in order, and the count goes into the summary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson


def repair_jsonl(path: Path, required: str | None = None) -> int:
    """Set aside lines of ``path`` that are not a JSON object (with key ``required``, if given)
    and a last line without its newline; return how many lines were set aside."""

    def good(line: bytes) -> bool:
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        return isinstance(value, dict) and (required is None or isinstance(value.get(required), str))

    return _repair(path, _lines, good)


def repair_csv(path: Path) -> int:
    """``repair_jsonl`` for ``items.csv``: a row is whole when its quotes balance and it ends in a
    newline; rows whose field count differs from the header's are set aside too."""
    import csv

    if not path.is_file():
        return 0
    header = next(_csv_rows(path), b"")
    width = len(next(csv.reader([header.decode("utf-8", "replace")]), []))

    def good(row: bytes) -> bool:
        try:
            fields = next(csv.reader([row.decode("utf-8")]))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            return False
        return len(fields) == width

    return _repair(path, _csv_rows, good)


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from f


def _csv_rows(path: Path) -> Iterator[bytes]:
    """Physical CSV rows: lines joined while a quoted field is open (quotes count odd)."""
    row = b""
    for line in _lines(path):
        row += line
        if row.count(b'"') % 2 == 0:
            yield row
            row = b""
    if row:
        yield row  # an unterminated quote: a torn or damaged last row


def _repair(path: Path, rows: Callable[[Path], Iterator[bytes]], good: Callable[[bytes], bool]) -> int:
    """Rewrite ``path`` without the rows ``good`` refuses (and without a torn last row). A first
    pass only reads, so an undamaged file (the usual case) is never rewritten."""

    def whole(row: bytes) -> bool:
        return row.endswith(b"\n") and good(row)

    if not path.is_file() or all(whole(row) for row in rows(path)):
        return 0
    tmp = path.with_name(path.name + ".repair")
    bad = 0
    with open(tmp, "wb") as kept, open(f"{path}.damaged", "ab") as damaged:
        for row in rows(path):
            if whole(row):
                kept.write(row)
            else:
                bad += 1
                damaged.write(row if row.endswith(b"\n") else row + b"\n")
    os.replace(tmp, path)
    return bad
