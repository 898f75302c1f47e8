"""``items.csv`` (``format: csv``): one row per item, columns ``url``, ``rule`` and every field the
job's extract rules name (in order). Lists and objects are JSON-encoded; missing values are empty.
Same interface as :class:`~crawler.sinks.records.RecordSink`, so the engine flushes both alike."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import orjson

from crawler.sinks.records import write_all


class CsvSink:
    """Appends items as CSV rows (header first when the file is new); ``flush`` writes them."""

    def __init__(self, path: Path, columns: list[str], *, truncate: bool) -> None:
        self.path = path
        self.columns = ["url", "rule", *[c for c in columns if c not in ("url", "rule")]]
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(path, flags, 0o644)
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        self.pending_bytes = 0
        if os.fstat(self._fd).st_size == 0:
            self._writer.writerow(self.columns)

    def write(self, item: dict[str, Any]) -> None:
        before = self._buffer.tell()
        self._writer.writerow([_cell(item.get(c)) for c in self.columns])
        self.pending_bytes += self._buffer.tell() - before

    def flush(self) -> None:
        data = self._buffer.getvalue().encode("utf-8")
        self._buffer.seek(0)
        self._buffer.truncate()
        self.pending_bytes = 0
        write_all(self._fd, data)

    def close(self) -> None:
        self.flush()
        os.close(self._fd)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
