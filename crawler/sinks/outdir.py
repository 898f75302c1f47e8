"""The output directory of one job: its lock, its fresh start and its resume-time repair."""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from crawler.core.errors import LockedError
from crawler.sinks.repair import repair_csv, repair_jsonl

STATE_FILES = (
    "state.sqlite",
    "state.sqlite-wal",
    "state.sqlite-shm",
    "records.jsonl",
    "items.jsonl",
    "items.csv",
    "content.jsonl",
    "chunks.jsonl",
    "simhash.jsonl",
    "crawl.warc.gz",
    ".warc-good",
    "changes.jsonl",
    "stats.jsonl",
    "report.html",
)
STATE_DIRS = ("pages", "screens")


def lock(out: Path) -> int:
    """Hold ``OUT/.lock`` for the crawl, so two processes never share one output directory."""
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LockedError(f"{out} is in use by another crawl") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def clear(out: Path) -> None:
    """``--fresh``: forget the previous crawl in ``out`` (state, records, items, content, pages, screens)."""
    for name in STATE_FILES:
        (out / name).unlink(missing_ok=True)
    for folder in STATE_DIRS:
        shutil.rmtree(out / folder, ignore_errors=True)


def repair(out: Path) -> int:
    """Before a resume: set damaged lines of records, items and content aside (``<file>.damaged``),
    so the crawl goes on; return how many lines were set aside."""
    return (
        repair_jsonl(out / "records.jsonl", required="url")
        + repair_jsonl(out / "items.jsonl")
        + repair_csv(out / "items.csv")
        + sum(repair_jsonl(out / name, required="url") for name in ("content.jsonl", "chunks.jsonl", "simhash.jsonl"))
    )
