"""``records.jsonl``: one whole JSON line per URL, success or failure.

Lines are encoded with orjson and written with ``os.write`` on an ``O_APPEND`` descriptor in
batches of whole lines, so a crash can lose the last unflushed batch but never leaves half a line
from a buffer boundary. The engine decides when to flush: always right after the frontier has
committed, so no record reaches disk before the links its page produced are durable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

FLUSH_BYTES = 64 * 1024


class RecordSink:
    """Appends records (or starts the file over when ``truncate``); the engine calls ``flush``."""

    def __init__(self, path: Path, *, truncate: bool) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(path, flags, 0o644)
        self._pending: list[bytes] = []
        self.pending_bytes = 0

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        self._pending.append(line)
        self.pending_bytes += len(line)

    def flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self.pending_bytes = 0
        write_all(self._fd, data)

    def close(self) -> None:
        self.flush()
        os.close(self._fd)


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until every byte is written (a regular file rarely needs more than one call)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
