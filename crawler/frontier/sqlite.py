"""SQLite frontier: the default. ``OUT/state.sqlite`` (WAL) holds every admitted URL and its state.

Crash safety comes from one rule and one repair:

* rule: the engine commits the frontier before it flushes records, so the links a page produced are
  durable before that page's record is;
* repair (on open): ``records.jsonl`` is the truth about which URLs are finished. The engine has
  set its torn or damaged lines aside (``crawler.sinks.repair``); every URL with a record is marked
  done, and every other URL (leased when the process died, or marked done without a record) is
  queued again.

So ``done`` need not be committed eagerly, writes are batched into one transaction per checkpoint,
and a ``kill -9`` at any instant loses no URL and refetches no recorded one. State changes of
known rows (leased, failed, done) only matter to ``crawler status`` and to reading a host's next
batch, so they are buffered and written in order, in one ``executemany``, at each commit and before
each batch read.

Memory stays bounded: queued URLs are read from the database per host in small batches, and the
seen set is the table's unique index behind a bounded in-memory cache.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from crawler.errors import StateError
from crawler.frontier import NO_CAPS, Caps, Counts, Lease, Request
from crawler.sinks.repair import read_jsonl_urls

APP_ID = 0x43524157  # "CRAW": marks the file as ours (PRAGMA application_id)
SCHEMA_VERSION = 3  # 2: urls.meta; 3: urls.priority (older files are upgraded when opened)
BATCH = 256
SEEN_CACHE = 200_000
HOST_CACHE = 100_000  # hosts whose admitted count is kept in memory (for max_pages_per_host)
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
    state INTEGER NOT NULL DEFAULT 0,
    meta TEXT,
    priority INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX urls_order ON urls (host, state, priority DESC, id);
"""
UPGRADES = {  # format → the statements that bring it to the next one
    1: ["ALTER TABLE urls ADD COLUMN meta TEXT"],
    2: ["ALTER TABLE urls ADD COLUMN priority INTEGER NOT NULL DEFAULT 0", "DROP INDEX urls_queue",
        "CREATE INDEX urls_order ON urls (host, state, priority DESC, id)"],
}


@dataclass(slots=True)
class _Batch:
    """Queued rows of one host read from the table: a heap of (-priority, order, request). Every
    row in it is still queued in the table, so a batch can be dropped at any time and read again."""

    heap: list[tuple[int, int, Request]]
    boundary: tuple[int, int] | None  # key of the last row read: unread rows sort after it (None: all read)

    def takes(self, key: tuple[int, int]) -> bool:
        """Whether a row with ``key`` belongs in this batch (it sorts before every unread row)."""
        return self.boundary is None or key < self.boundary


class SqliteFrontier:
    """Frontier in ``path`` (created if missing); ``open`` must be awaited before use."""

    persistent = True

    def __init__(self, path: Path, records: Path) -> None:
        self.path = path
        self._records = records
        self._db: sqlite3.Connection | None = None
        self._queues: dict[str, _Batch] = {}
        self._seen: set[str] = set()  # two generations: a bounded cache of recently seen URLs
        self._seen_old: set[str] = set()
        self._per_host: OrderedDict[str, int] = OrderedDict()  # bounded cache of admitted per host
        self._leased: dict[int, Lease] = {}
        self._ids = itertools.count(1)
        self._retries: dict[str, list[tuple[int, int, Request]]] = {}  # per host: failed, to try again
        self._retry_order = itertools.count(1)
        self._queued = 0
        self._admitted = 0
        self._changes: list[tuple[int, int, str]] = []  # (state, attempt, url), applied at commit

    async def open(self) -> int:
        """Open or create the store, reconcile it with records.jsonl; return URLs already done."""
        existed = self.path.exists()
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            # checked before anything writes: a foreign file must stay untouched
            if existed:
                _upgrade(db, check_state(db, self.path))
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
        done = _reconcile(db, self._records) if existed else 0
        self._queued = db.execute("SELECT count(*) FROM urls WHERE state=?", (QUEUED,)).fetchone()[0]
        self._admitted = db.execute("SELECT count(*) FROM urls").fetchone()[0]
        return done

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        db = self._conn()
        fresh: list[Request] = []
        for r in requests:
            if caps.total is not None and self._admitted + len(fresh) >= caps.total:
                break
            if r.url in self._seen or r.url in self._seen_old:
                continue
            if caps.per_host is not None and self._host_count(r.host) >= caps.per_host:
                continue
            meta = orjson.dumps(r.meta).decode() if r.meta else None
            cur = db.execute("INSERT OR IGNORE INTO urls (url, host, depth, parent, redirects, meta, priority) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (r.url, r.host, r.depth, r.parent, r.redirects, meta, r.priority))
            self._remember(r.url)
            if cur.rowcount:
                fresh.append(r)
                self._offer(r, (-r.priority, cur.lastrowid or 0))
                if r.host in self._per_host:  # keep a cached count true (it is read under a cap)
                    self._per_host[r.host] += 1
        self._queued += len(fresh)
        self._admitted += len(fresh)
        return fresh

    async def lease(self, wants: Mapping[str, int], ttl: float) -> list[Lease]:
        expires = time.time() + ttl
        leases: list[Lease] = []
        for host, n in wants.items():
            retries = self._retries.get(host, [])
            batch = self._queues.get(host)
            for _ in range(n):
                if batch is None or (not batch.heap and batch.boundary is not None):  # read on
                    batch = self._queues[host] = self._load(host)
                if retries and (not batch.heap or retries[0] < batch.heap[0]):
                    r = heapq.heappop(retries)[2]
                elif batch.heap:
                    r = heapq.heappop(batch.heap)[2]
                else:
                    break
                self._changes.append((LEASED, r.attempt, r.url))
                lease = Lease(next(self._ids), r, expires)
                self._leased[lease.id] = lease
                leases.append(lease)
            if not retries:
                self._retries.pop(host, None)
            if batch is not None and not batch.heap:
                del self._queues[host]
        self._queued -= len(leases)
        return leases

    async def failed(self, lease: Lease) -> None:
        """The request waits in memory, keeping its counters (proxy retries are not stored); its
        row stays leased, with the new attempt count, so a batch read does not take it again."""
        request = lease.request
        self._leased.pop(lease.id, None)
        self._changes.append((LEASED, request.attempt, request.url))
        key = (-request.priority, -next(self._retry_order))  # the head of its priority
        heapq.heappush(self._retries.setdefault(request.host, []), (*key, request))
        self._queued += 1

    async def done(self, lease: Lease) -> None:
        self._leased.pop(lease.id, None)
        self._changes.append((DONE, lease.request.attempt, lease.request.url))

    async def seen(self, url: str) -> bool:
        if url in self._seen or url in self._seen_old:
            return True
        return self._conn().execute("SELECT 1 FROM urls WHERE url=?", (url,)).fetchone() is not None

    async def counts(self) -> Counts:
        return Counts(self._queued, len(self._leased), self._admitted)

    async def hosts_with_work(self) -> list[str]:
        self._apply_changes()
        rows = self._conn().execute("SELECT DISTINCT host FROM urls WHERE state=?", (QUEUED,))
        return list({h for (h,) in rows} | self._retries.keys())

    async def commit(self) -> None:
        db = self._conn()
        self._apply_changes()
        db.execute("COMMIT")
        db.execute("BEGIN")

    async def flushed(self) -> None:
        """Nothing to do: on open, records.jsonl decides which URLs are done."""

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            try:
                self._changes, changes = [], self._changes
                if changes:
                    db.executemany("UPDATE urls SET state=?, attempt=? WHERE url=?", changes)
                db.execute("COMMIT")
            finally:
                db.close()

    def _apply_changes(self) -> None:
        if self._changes:
            self._conn().executemany("UPDATE urls SET state=?, attempt=? WHERE url=?", self._changes)
            self._changes.clear()

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "SqliteFrontier.open() was not awaited"
        return self._db

    def _host_count(self, host: str) -> int:
        """URLs ever admitted for ``host``: a bounded cache in front of the table's host index."""
        count = self._per_host.get(host)
        if count is None:
            count = self._conn().execute("SELECT count(*) FROM urls WHERE host=?", (host,)).fetchone()[0]
            self._per_host[host] = count
            if len(self._per_host) > HOST_CACHE:
                self._per_host.popitem(last=False)
        else:
            self._per_host.move_to_end(host)
        return count

    def _offer(self, r: Request, key: tuple[int, int]) -> None:
        """A row of ``r.host`` just queued in the table joins the host's batch if it sorts before
        the rows not read yet; a batch that grows too large is dropped (the table has its rows)."""
        batch = self._queues.get(r.host)
        if batch is not None and batch.takes(key):
            heapq.heappush(batch.heap, (*key, r))
            if len(batch.heap) > 2 * BATCH:
                del self._queues[r.host]

    def _load(self, host: str) -> _Batch:
        """The next batch of queued rows of ``host``: highest priority first, then oldest. Buffered
        state changes are applied first, so rows leased before (and not yet committed) are not
        read again; the index on (host, state, priority, id) makes this a seek."""
        self._apply_changes()
        rows = self._conn().execute(
            "SELECT id, url, depth, parent, attempt, redirects, meta, priority FROM urls "
            "WHERE host=? AND state=? ORDER BY priority DESC, id LIMIT ?", (host, QUEUED, BATCH)).fetchall()
        heap = [(-priority, rowid, Request(url, host, depth, parent, attempt, redirects,
                                           orjson.loads(meta) if meta else None, priority))
                for rowid, url, depth, parent, attempt, redirects, meta, priority in rows]  # sorted: a heap
        boundary = (-rows[-1][7], rows[-1][0]) if len(rows) == BATCH else None
        return _Batch(heap, boundary)

    def _remember(self, url: str) -> None:
        if len(self._seen) >= SEEN_CACHE // 2:
            self._seen_old = self._seen
            self._seen = set()
        self._seen.add(url)


def check_state(db: sqlite3.Connection, path: Path) -> int:
    """The format version of ``db``; StateError unless it is a crawler state file this crawler
    reads (this format or an older one it upgrades), undamaged."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APP_ID:
        raise StateError(f"{path}: not a crawler state file (foreign SQLite database); "
                         "move it away or run with --fresh")
    if not 1 <= version <= SCHEMA_VERSION:
        raise StateError(f"{path}: state format {version}, this crawler reads {SCHEMA_VERSION}; "
                         "run with --fresh to start over")
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StateError(f"{path}: state file is damaged ({result}); run with --fresh to start over")
    return int(version)


def _upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring a state file of an older format to this one, in one transaction."""
    if version == SCHEMA_VERSION:
        return
    db.execute("BEGIN")
    for v in range(version, SCHEMA_VERSION):
        for statement in UPGRADES[v]:
            db.execute(statement)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    db.execute("COMMIT")


def _reconcile(db: sqlite3.Connection, records: Path) -> int:
    """Make the store agree with records.jsonl; return how many URLs have a final record."""
    db.execute("CREATE TEMP TABLE recorded (url TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany("INSERT OR IGNORE INTO recorded VALUES (?)", ((u,) for u in read_jsonl_urls(records)))
    db.execute(f"UPDATE urls SET state={QUEUED} WHERE state!={QUEUED} AND url NOT IN (SELECT url FROM recorded)")
    db.execute(f"UPDATE urls SET state={DONE} WHERE url IN (SELECT url FROM recorded)")
    count: int = db.execute("SELECT count(*) FROM recorded").fetchone()[0]
    db.execute("DROP TABLE recorded")
    return count
