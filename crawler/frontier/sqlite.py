"""SQLite frontier: the default. ``OUT/state.sqlite`` (WAL) holds every admitted URL and its state.

Crash safety comes from one rule and one repair:

* rule: the engine commits the frontier before it flushes records, so the links a page produced are
  durable before that page's record is;
* repair (on open): ``records.jsonl`` is the truth about which URLs are finished. A torn last line is
  cut off, every URL with a record is marked done, and every other URL (leased when the process
  died, or marked done without a record) is queued again.

So ``done`` need not be committed eagerly, writes are batched into one transaction per checkpoint,
and a ``kill -9`` at any instant loses no URL and refetches no recorded one. State changes of
known rows (leased, released, done) only matter to ``crawler status`` between repairs, so they are
buffered and written in order, in one ``executemany``, at each commit.

Memory stays bounded: queued URLs are read from the database per host in small batches, and the
seen set is the table's unique index behind a bounded in-memory cache.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import orjson

from crawler.frontier import Request

APP_ID = 0x43524157  # "CRAW": marks the file as ours (PRAGMA application_id)
SCHEMA_VERSION = 1
BATCH = 256
SEEN_CACHE = 200_000
QUEUED, LEASED, DONE = 0, 1, 2
SCHEMA = """
CREATE TABLE urls (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    depth INTEGER NOT NULL,
    parent TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    redirects INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX urls_queue ON urls (host, state, id);
"""


class StateError(Exception):
    """state.sqlite exists but is not a usable crawler state file; the message says why."""


class SqliteFrontier:
    """Frontier in ``path`` (created if missing); ``open`` must be awaited before use."""

    def __init__(self, path: Path, records: Path) -> None:
        self.path = path
        self._records = records
        self._db: sqlite3.Connection | None = None
        self._queues: dict[str, deque[Request]] = {}
        self._loaded_to: dict[str, int] = {}
        self._seen: set[str] = set()  # two generations: a bounded cache of recently seen URLs
        self._seen_old: set[str] = set()
        self._queued = 0
        self._admitted = 0
        self._changes: list[tuple[int, int, str]] = []  # (state, attempt, url), applied at commit
        self.resumed = 0

    async def open(self) -> None:
        """Open or create the store and reconcile it with records.jsonl."""
        existed = self.path.exists()
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            if existed:  # before anything writes: a foreign file must stay untouched
                check_state(db, self.path)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if not existed:
                db.executescript(SCHEMA)
                db.execute(f"PRAGMA application_id={APP_ID}")
                db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self.path}: not a crawler state file ({e}); "
                             "move it away or run with --fresh") from None
        self._db = db
        db.execute("BEGIN")
        if existed:
            self.resumed = _reconcile(db, self._records)
        self._queued = db.execute("SELECT count(*) FROM urls WHERE state=?", (QUEUED,)).fetchone()[0]
        self._admitted = db.execute("SELECT count(*) FROM urls").fetchone()[0]

    async def add(self, requests: Sequence[Request], limit: int | None = None) -> list[Request]:
        db = self._conn()
        fresh: list[Request] = []
        for r in requests:
            if limit is not None and len(fresh) >= limit:
                break
            if r.url in self._seen or r.url in self._seen_old:
                continue
            cur = db.execute("INSERT OR IGNORE INTO urls (url, host, depth, parent, redirects) "
                             "VALUES (?, ?, ?, ?, ?)", (r.url, r.host, r.depth, r.parent, r.redirects))
            self._remember(r.url)
            if cur.rowcount:
                fresh.append(r)
        self._queued += len(fresh)
        self._admitted += len(fresh)
        return fresh

    async def lease(self, host: str) -> Request | None:
        q = self._queues.get(host)
        if not q:
            q = self._queues[host] = self._load(host)
            if not q:
                del self._queues[host]
                return None
        r = q.popleft()
        self._changes.append((LEASED, r.attempt, r.url))
        self._queued -= 1
        return r

    async def release(self, request: Request) -> None:
        self._changes.append((QUEUED, request.attempt, request.url))
        self._queues.setdefault(request.host, deque()).appendleft(request)
        self._queued += 1

    async def done(self, request: Request) -> None:
        self._changes.append((DONE, request.attempt, request.url))

    async def seen(self, url: str) -> bool:
        if url in self._seen or url in self._seen_old:
            return True
        return self._conn().execute("SELECT 1 FROM urls WHERE url=?", (url,)).fetchone() is not None

    def queued(self) -> int:
        return self._queued

    def admitted(self) -> int:
        return self._admitted

    def admitted_per_host(self) -> dict[str, int]:
        return dict(self._conn().execute("SELECT host, count(*) FROM urls GROUP BY host").fetchall())

    def hosts_with_work(self) -> list[str]:
        rows = self._conn().execute("SELECT DISTINCT host FROM urls WHERE state=?", (QUEUED,))
        return [h for (h,) in rows]

    async def commit(self) -> None:
        db = self._conn()
        self._apply_changes()
        db.execute("COMMIT")
        db.execute("BEGIN")

    async def close(self) -> None:
        if self._db is not None:
            self._apply_changes()
            self._db.execute("COMMIT")
            self._db.close()
            self._db = None

    def _apply_changes(self) -> None:
        if self._changes:
            self._conn().executemany("UPDATE urls SET state=?, attempt=? WHERE url=?", self._changes)
            self._changes.clear()

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "SqliteFrontier.open() was not awaited"
        return self._db

    def _load(self, host: str) -> deque[Request]:
        """The next batch of queued rows of ``host`` not yet in memory, oldest first."""
        after = self._loaded_to.get(host, 0)
        rows = self._conn().execute(
            "SELECT id, url, depth, parent, attempt, redirects FROM urls "
            "WHERE host=? AND state=? AND id>? ORDER BY id LIMIT ?", (host, QUEUED, after, BATCH)).fetchall()
        if rows:
            self._loaded_to[host] = rows[-1][0]
        return deque(Request(url, host, depth, parent, attempt, redirects)
                     for _, url, depth, parent, attempt, redirects in rows)

    def _remember(self, url: str) -> None:
        if len(self._seen) >= SEEN_CACHE // 2:
            self._seen_old = self._seen
            self._seen = set()
        self._seen.add(url)


def check_state(db: sqlite3.Connection, path: Path) -> None:
    """Raise StateError unless ``db`` is a crawler state file of this format, undamaged."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APP_ID:
        raise StateError(f"{path}: not a crawler state file (foreign SQLite database); "
                         "move it away or run with --fresh")
    if version != SCHEMA_VERSION:
        raise StateError(f"{path}: state format {version}, this crawler reads {SCHEMA_VERSION}; "
                         "run with --fresh to start over")
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StateError(f"{path}: state file is damaged ({result}); run with --fresh to start over")


def _reconcile(db: sqlite3.Connection, records: Path) -> int:
    """Make the store agree with records.jsonl; return how many URLs have a final record."""
    db.execute("CREATE TEMP TABLE recorded (url TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT OR IGNORE INTO recorded VALUES (?)", ((u,) for u in recorded_urls(records)))
    db.execute(f"UPDATE urls SET state={QUEUED} WHERE state!={QUEUED} AND url NOT IN (SELECT url FROM recorded)")
    db.execute(f"UPDATE urls SET state={DONE} WHERE url IN (SELECT url FROM recorded)")
    count = db.execute("SELECT count(*) FROM recorded").fetchone()[0]
    db.execute("DROP TABLE recorded")
    return count


def recorded_urls(records: Path):
    """URLs of records.jsonl, after cutting a torn last line (a crash mid-write) off the file."""
    if not records.exists():
        return
    repair_tail(records)
    with open(records, "rb") as f:
        for line in f:
            yield orjson.loads(line)["url"]


def repair_tail(records: Path) -> None:
    """Truncate ``records`` after its last newline, dropping a partial line if there is one."""
    with open(records, "rb+") as f:
        size = f.seek(0, 2)
        pos = size
        while pos > 0:
            step = min(65536, pos)
            f.seek(pos - step)
            chunk = f.read(step)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                pos = pos - step + nl + 1
                break
            pos -= step
        if pos != size:
            f.truncate(pos)
