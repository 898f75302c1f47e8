"""``records.jsonl``: one whole JSON line per URL, success or failure.

Lines are encoded with orjson and written with ``os.write`` on an ``O_APPEND`` descriptor in
batches of whole lines, so a crash can lose the last unflushed batch but never leaves half a line
from a buffer boundary. The engine decides when to flush: always right after the frontier has
committed, and only the lines written before that commit began (``mark``), so no record reaches
disk before the links its page produced are durable. Lines leave the buffer only once written: a
failed write (disk full) loses nothing, and the bytes a partial write did store are not repeated.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

FLUSH_BYTES = 64 * 1024


class LineSink:
    """Appends whole lines (or starts the file over when ``truncate``); the engine calls ``flush``."""

    def __init__(self, path: Path, *, truncate: bool) -> None:
        self.path = path
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0)
        self._fd = os.open(path, flags, 0o644)
        self._pending: list[bytes] = []
        self.pending_bytes = 0

    def mark(self) -> int:
        """A point in the buffer: ``flush(mark)`` writes what was written before it."""
        return len(self._pending)

    def flush(self, upto: int | None = None) -> None:
        """Write the buffered lines (those before ``upto``); on failure keep what was not written."""
        upto = len(self._pending) if upto is None else upto
        if not upto:
            return
        data = b"".join(self._pending[:upto])
        del self._pending[:upto]
        view, done = memoryview(data), 0
        try:
            while done < len(data):
                done += os.write(self._fd, view[done:])
        finally:
            if done < len(data):
                self._pending.insert(0, data[done:])
            self.pending_bytes -= done

    def close(self, *, flush: bool = True) -> None:
        """Flush (unless the frontier could not commit: then these lines must not reach disk)."""
        try:
            if flush:
                self.flush()
        finally:
            os.close(self._fd)

    def _append(self, line: bytes) -> None:
        self._pending.append(line)
        self.pending_bytes += len(line)


class RecordSink(LineSink):
    """``records.jsonl`` and ``items.jsonl``: one JSON object per line."""

    def write(self, record: dict[str, Any]) -> None:
        self._append(orjson.dumps(record) + b"\n")
