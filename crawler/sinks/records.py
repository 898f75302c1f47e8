"""``records.jsonl``: one whole JSON line per URL, success or failure.

Lines are encoded with orjson and written with ``os.write`` on an ``O_APPEND`` descriptor in
batches of whole lines, so a crash can lose the last unflushed batch but never leaves half a line
from a buffer boundary.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

FLUSH_BYTES = 64 * 1024


class RecordSink:
    """Appends records; ``flush`` is called by the engine periodically and at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o644)
        self._pending: list[bytes] = []
        self._size = 0
        self.count = 0

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        self._pending.append(line)
        self._size += len(line)
        self.count += 1
        if self._size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        data = memoryview(b"".join(self._pending))
        self._pending.clear()
        self._size = 0
        while data:
            data = data[os.write(self._fd, data):]

    def close(self) -> None:
        self.flush()
        os.close(self._fd)
