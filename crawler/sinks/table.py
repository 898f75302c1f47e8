"""``items.csv`` (``format: csv``): one row per item, columns ``url``, ``rule`` and every field the
job's extract rules name (in order). Lists and objects are JSON-encoded; missing values are empty.
A :class:`~crawler.sinks.records.LineSink`, so the engine flushes it like records."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import orjson

from crawler.sinks.records import LineSink


class CsvSink(LineSink):
    """Appends items as CSV rows (header first when the file is new)."""

    def __init__(self, path: Path, columns: list[str], *, truncate: bool) -> None:
        super().__init__(path, truncate=truncate)
        self.columns = ["url", "rule", *[c for c in columns if c not in ("url", "rule")]]
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer)
        if os.fstat(self._fd).st_size == 0:
            self._row(self.columns)

    def write(self, item: dict[str, Any]) -> None:
        self._row([_cell(item.get(c)) for c in self.columns])

    def _row(self, cells: list[str]) -> None:
        self._writer.writerow(cells)
        self._append(self._buffer.getvalue().encode("utf-8"))
        self._buffer.seek(0)
        self._buffer.truncate()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
