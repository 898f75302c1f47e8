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
seen set is the table's unique index (of dedup keys, ``crawler.core.urls``) behind a bounded in-memory
cache.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import orjson

from crawler.core.errors import StateError
from crawler.core.request import NO_CAPS, Attempts, Caps, Counts, Lease, Request, Visit
from crawler.core.urls import dedup_key, legacy_keys
from crawler.frontier.sqlite_state import (
    APP_ID,
    ATTEMPT_COLUMNS,
    DONE,
    LATEST_VISIT,
    LEASED,
    QUEUED,
    SCHEMA,
    VERSION,
    VISIT_OF_U,
    attempts_of,
    attempts_row,
    check_state,
    reconcile,
    upgrade,
    visit_of,
    visit_row,
)

BATCH = 256
SEEN_CACHE = 100_000  # recently seen dedup keys (most repeated links are a site's own, and recent)
HOST_CACHE = 100_000  # hosts whose admitted count is kept in memory (for max_pages_per_host)
DRAINED = 4096  # hosts whose every queued row was leased, kept as empty batches: their new links need no read
_VISIT_INSERT = f"INSERT OR REPLACE INTO visits SELECT id, ?, {', '.join('?' * 9)} FROM urls WHERE url=?"
_CHANGE = "UPDATE urls SET state=?, attempt=?, proxy_attempts=?, render=?, proxy_waiting_since=? WHERE url=?"
_FRESH = "attempt=0, proxy_attempts=0, render=0, proxy_waiting_since=NULL"  # a new generation's first attempt


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
        self.generation = 1
        self.path = path
        self._records = records
        self._db: sqlite3.Connection | None = None
        self._queues: dict[str, _Batch] = {}
        self._drained: OrderedDict[str, _Batch] = OrderedDict()  # empty and complete, the newest last
        self._seen: set[str] = set()  # two generations: a bounded cache of recently seen URLs
        self._seen_old: set[str] = set()
        self._per_host: OrderedDict[str, int] = OrderedDict()  # bounded cache of admitted per host
        self._leased: dict[int, Lease] = {}
        self._ids = itertools.count(1)
        self._retries: dict[str, list[tuple[int, int, Request]]] = {}  # per host: failed, to try again
        self._retry_order = itertools.count(1)
        self._queued = 0
        self._admitted = 0
        self._changes: list[tuple[object, ...]] = []  # (state, *attempts_row, key), applied at commit
        self._visits: list[tuple[object, ...]] = []  # (generation, *visit, key), applied at commit
        self._legacy = False  # the file was saved before dedup keys: look links up by old keys too
        self._kept: dict[str, Callable[[bool], str | None]] = {}  # other parts' state, saved with each commit

    async def open(self) -> int:
        """Open or create the store, reconcile it with records.jsonl; return URLs already done."""
        existed = self.path.exists()
        try:
            db = sqlite3.connect(self.path, isolation_level=None)
            # checked before anything writes: a foreign file must stay untouched
            if existed:
                upgrade(db, check_state(db, self.path), self._records)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            if not existed:
                db.executescript(SCHEMA)
                db.execute(f"PRAGMA application_id={APP_ID}")
                db.execute(f"PRAGMA user_version={VERSION}")
        except sqlite3.DatabaseError as e:
            raise StateError(f"{self.path}: not a crawler state file ({e}); move it away or run with --fresh") from None
        self._db = db
        db.execute("BEGIN")
        row = db.execute("SELECT value FROM job WHERE key='generation'").fetchone()
        self.generation = int(row[0]) if row else 1
        self._legacy = db.execute("SELECT 1 FROM job WHERE key='legacy_keys'").fetchone() is not None
        done = reconcile(db, self._records, self.generation) if existed else 0
        self._queued = db.execute("SELECT count(*) FROM urls WHERE state=?", (QUEUED,)).fetchone()[0]
        self._admitted = db.execute("SELECT count(*) FROM urls").fetchone()[0]
        return done

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        db = self._conn()
        fresh: list[Request] = []
        for r in requests:
            if caps.total is not None and self._admitted + len(fresh) >= caps.total:
                break
            key = dedup_key(r.url)
            if key in self._seen or key in self._seen_old:
                continue
            if self._legacy and self._seen_before(r.url):
                self._remember(key)
                continue
            if caps.per_host is not None and self._host_count(r.host) >= caps.per_host:
                continue
            meta = orjson.dumps(r.meta).decode() if r.meta else None
            cur = db.execute(
                "INSERT OR IGNORE INTO urls (url, host, depth, parent, redirects, meta, priority, "
                "generation, href) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    r.host,
                    r.depth,
                    r.parent,
                    r.redirects,
                    meta,
                    r.priority,
                    self.generation,
                    r.url if r.url != key else None,
                ),
            )
            self._remember(key)
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
                    self._drained.pop(host, None)  # (a host is in _queues or _drained, never both)
                    batch = self._queues[host] = self._load(host)
                if retries and (not batch.heap or retries[0] < batch.heap[0]):
                    r = heapq.heappop(retries)[2]
                elif batch.heap:
                    r = heapq.heappop(batch.heap)[2]
                else:
                    break
                self._changes.append((LEASED, *attempts_row(r.attempts), dedup_key(r.url)))
                lease = Lease(next(self._ids), r, expires)
                self._leased[lease.id] = lease
                leases.append(lease)
            if not retries:
                self._retries.pop(host, None)
            if batch is not None and not batch.heap:
                del self._queues[host]
                if batch.boundary is None:  # nothing of the host's is left in the table: a page's links
                    self._drain(host, batch)  # found a moment later join this batch without a read
        self._queued -= len(leases)
        return leases

    async def again(self, lease: Lease, attempts: Attempts) -> None:
        """The request waits in memory; its row stays leased, with the new attempts, so a batch
        read does not take it again (on a resume it is queued again, with them)."""
        request = replace(lease.request, attempts=attempts)
        self._leased.pop(lease.id, None)
        self._changes.append((LEASED, *attempts_row(attempts), dedup_key(request.url)))
        key = (-request.priority, -next(self._retry_order))  # the head of its priority
        heapq.heappush(self._retries.setdefault(request.host, []), (*key, request))
        self._queued += 1

    async def done(self, lease: Lease, visit: Visit | None = None) -> None:
        self._leased.pop(lease.id, None)
        r = lease.request
        key = dedup_key(r.url)
        self._changes.append((DONE, *attempts_row(r.attempts), key))
        if visit is not None:
            self._visits.append((self.generation, *visit_row(visit), key))

    async def recrawl(self, due: Callable[[str, Visit | None], bool] | None) -> int | None:
        """An unfinished generation goes on (None). Else the next one: every finished URL that is
        ``due`` (all, for None) is queued again with its last visit; committed at once, so a crash
        from here on resumes this generation."""
        if self._queued or self._leased or self._retries or not self._admitted:
            return None
        db = self._conn()
        self._apply_changes()
        generation = self.generation + 1
        if due is None:
            cur = db.execute(
                f"UPDATE urls SET state={QUEUED}, {_FRESH}, generation=? WHERE state={DONE}", (generation,)
            )
            again = cur.rowcount
        else:
            rows = db.execute(
                f"SELECT u.id, coalesce(u.href, u.url), {VISIT_OF_U} FROM urls u {LATEST_VISIT} WHERE u.state={DONE}",
                (generation,),
            ).fetchall()
            chosen = [(generation, row[0]) for row in rows if due(row[1], visit_of(row[2:]))]
            db.executemany(f"UPDATE urls SET state={QUEUED}, {_FRESH}, generation=? WHERE id=?", chosen)
            again = len(chosen)
        db.execute("INSERT OR REPLACE INTO job VALUES ('generation', ?)", (generation,))
        db.execute("COMMIT")
        db.execute("BEGIN")
        self.generation = generation
        self._queued += again
        self._queues.clear()
        self._drained.clear()
        return again

    async def seen(self, url: str) -> bool:
        key = dedup_key(url)
        if key in self._seen or key in self._seen_old:
            return True
        return self._conn().execute("SELECT 1 FROM urls WHERE url=?", (key,)).fetchone() is not None

    def _seen_before(self, url: str) -> bool:
        """Whether a file saved before dedup keys holds ``url`` under an old key of it."""
        db = self._conn()
        return any(db.execute("SELECT 1 FROM urls WHERE url=?", (old,)).fetchone() for old in legacy_keys(url))

    async def counts(self) -> Counts:
        return Counts(self._queued, len(self._leased), self._admitted)

    async def hosts_with_work(self) -> list[str]:
        self._apply_changes()
        rows = self._conn().execute("SELECT DISTINCT host FROM urls WHERE state=?", (QUEUED,))
        return list({h for (h,) in rows} | self._retries.keys())

    async def commit(self) -> None:
        db = self._conn()
        self._apply_changes()
        self._save_kept(final=False)
        db.execute("COMMIT")
        db.execute("BEGIN")

    def keep(self, key: str, snapshot: Callable[[bool], str | None]) -> None:
        """Save ``snapshot(final)`` in the job table under ``key`` with every commit (None: nothing
        to save now; ``final``: the last, at close), so another part's state (the identities, the
        cookie jar) resumes with the frontier's."""
        self._kept[key] = snapshot

    def kept(self, key: str) -> str | None:
        """What was saved under ``key`` (the store must be open)."""
        row = self._conn().execute("SELECT value FROM job WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    async def flushed(self) -> None:
        """Nothing to do: on open, records.jsonl decides which URLs are done."""

    async def close(self) -> None:
        if self._db is not None:
            try:
                self._apply_changes()
                self._save_kept(final=True)
                self._db.execute("COMMIT")
            finally:
                db, self._db = self._db, None
                db.close()

    def _apply_changes(self) -> None:
        if self._changes:
            self._conn().executemany(_CHANGE, self._changes)
            self._changes.clear()
        if self._visits:
            self._conn().executemany(_VISIT_INSERT, self._visits)
            self._visits.clear()

    def _save_kept(self, *, final: bool) -> None:
        for key, snapshot in self._kept.items():
            if (value := snapshot(final)) is not None:
                self._conn().execute("INSERT OR REPLACE INTO job VALUES (?, ?)", (key, value))

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
        if batch is None and (batch := self._drained.pop(r.host, None)) is not None:
            self._queues[r.host] = batch
        if batch is not None and batch.takes(key):
            heapq.heappush(batch.heap, (*key, r))
            if len(batch.heap) > 2 * BATCH:
                del self._queues[r.host]

    def _drain(self, host: str, batch: _Batch) -> None:
        self._drained[host] = batch
        if len(self._drained) > DRAINED:
            self._drained.popitem(last=False)

    def _load(self, host: str) -> _Batch:
        """The next batch of queued rows of ``host``: highest priority first, then oldest. Buffered
        state changes are applied first, so rows leased before (and not yet committed) are not
        read again; the index on (host, state, priority, id) makes this a seek."""
        self._apply_changes()
        attempts = ", ".join(f"u.{c}" for c in ATTEMPT_COLUMNS.split(", "))
        columns = f"u.id, coalesce(u.href, u.url), u.depth, u.parent, u.redirects, u.meta, u.priority, {attempts}"
        args: tuple[int, ...] = ()
        query = f"SELECT {columns} FROM urls u"  # generation 1 has no earlier visits: the plain read
        if self.generation > 1:
            query, args = f"SELECT {columns}, {VISIT_OF_U} FROM urls u {LATEST_VISIT}", (self.generation,)
        rows = (
            self._conn()
            .execute(
                f"{query} WHERE u.host=? AND u.state=? ORDER BY u.priority DESC, u.id LIMIT ?",
                (*args, host, QUEUED, BATCH),
            )
            .fetchall()
        )
        heap = [
            (
                -priority,
                rowid,
                Request(
                    url,
                    host,
                    depth,
                    parent,
                    redirects,
                    orjson.loads(meta) if meta else None,
                    priority,
                    visit_of(tuple(rest[4:])) if len(rest) > 4 else None,
                    attempts_of(tuple(rest[:4])),
                ),
            )
            for rowid, url, depth, parent, redirects, meta, priority, *rest in rows
        ]  # sorted: a heap
        boundary = (-rows[-1][6], rows[-1][0]) if len(rows) == BATCH else None
        return _Batch(heap, boundary)

    def _remember(self, url: str) -> None:
        if len(self._seen) >= SEEN_CACHE // 2:
            self._seen_old = self._seen
            self._seen = set()
        self._seen.add(url)
