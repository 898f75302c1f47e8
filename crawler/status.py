"""``crawler status OUT``: progress of a stopped or running crawl, read from its state file."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from crawler.core.errors import StateError
from crawler.frontier.sqlite_state import DONE, LEASED, QUEUED, check_state


def describe(out: Path) -> str:
    """A few lines saying what the crawl in ``out`` has done and has left."""
    state = out / "state.sqlite"
    if not state.exists():
        raise StateError(f"{out}: no state.sqlite here (not a crawl output, or a memory-frontier crawl)")
    try:
        db = sqlite3.connect(f"file:{state}?mode=ro", uri=True)
        check_state(db, state)
        counts = dict(db.execute("SELECT state, count(*) FROM urls GROUP BY state").fetchall())
        db.close()
    except sqlite3.DatabaseError as e:
        raise StateError(f"{state}: not a crawler state file ({e})") from None
    records = out / "records.jsonl"
    lines = 0
    if records.exists():
        with open(records, "rb") as f:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    total = sum(counts.values())
    queued, leased, done = (counts.get(k, 0) for k in (QUEUED, LEASED, DONE))
    return (
        f"{out}: {_running(out)}\n"
        f"urls: {total} admitted, {done} done, {queued} queued, {leased} in flight or interrupted\n"
        f"records: {lines} in records.jsonl"
    )


def _running(out: Path) -> str:
    lock = out / ".lock"
    if not lock.exists():
        return "stopped"
    fd = os.open(lock, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return f"running (pid {lock.read_text().strip() or '?'})"
    finally:
        os.close(fd)
    return "stopped"
