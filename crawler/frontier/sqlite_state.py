"""The format of ``OUT/state.sqlite``: its schema, the upgrades of older files, and the repair
that makes it agree with ``records.jsonl`` after a crash.

Format 4 keeps what each fetch left (status, content digest, page file, ETag, Last-Modified,
times) in ``visits``, one row per URL and generation, and the job's generation in ``job``. A
re-crawl compares a URL with its visit of the latest earlier generation; a visit of the current
generation whose record never reached disk (a crash) is deleted on resume, so it cannot pose as
the earlier one. Files of formats 1–5 are upgraded in place when opened; a format-3 file learns
its URLs' visits from ``records.jsonl`` (all but the validators, which it never kept).

Format 5 reads URLs as a browser does: ``urls.url`` is the URL's dedup key, ``urls.href`` the
browser's URL to request where it differs (NULL: the same). A file of format 4 or older is
re-keyed, and marked ``legacy_keys`` in ``job``: its URLs were keyed in yarl's RFC 3986 form, so
the frontier looks new links up by their old keys too (``crawler.core.urls.legacy_keys``).

Format 6 keeps a URL's whole attempt state (:class:`~crawler.core.request.Attempts`): besides
``attempt``, the proxy retries it spent, whether it is to be rendered, and since when it has waited
for a proxy, so a resumed crawl goes on from them as a shared job's next worker does. Older files
gain the columns with their defaults: a URL's state that was never saved starts afresh.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crawler.core.errors import StateError
from crawler.core.formats import STATE_FORMAT
from crawler.core.records import read_jsonl, read_jsonl_urls, visit_from_record
from crawler.core.request import FIRST_ATTEMPT, Attempts, Visit
from crawler.core.urls import dedup_key

APP_ID = 0x43524157  # "CRAW": marks the file as ours (PRAGMA application_id)
VERSION = STATE_FORMAT  # 2: urls.meta; 3: urls.priority; 4: last visits and generations; 5: dedup keys, urls.href;
# 6: the attempt state (urls.proxy_attempts, render, proxy_waiting_since)
QUEUED, LEASED, DONE = 0, 1, 2
VISIT_COLUMNS = "status, ok, digest, path, etag, last_modified, fetched_at, changed_at, revisit"
_NEW_TABLES = """
CREATE TABLE visits (
    url_id INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    status INTEGER, ok INTEGER NOT NULL, digest TEXT, path TEXT, etag TEXT, last_modified TEXT,
    fetched_at REAL, changed_at REAL, revisit REAL,
    PRIMARY KEY (url_id, generation)
) WITHOUT ROWID;
CREATE TABLE job (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""
SCHEMA = (
    """
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
    priority INTEGER NOT NULL DEFAULT 0,
    generation INTEGER NOT NULL DEFAULT 1,
    href TEXT,
    proxy_attempts INTEGER NOT NULL DEFAULT 0,
    render INTEGER NOT NULL DEFAULT 0,
    proxy_waiting_since REAL
);
CREATE INDEX urls_order ON urls (host, state, priority DESC, id);
"""
    + _NEW_TABLES
)
# the visit columns of urls u's latest visit before a generation (one parameter), NULLs without one
VISIT_OF_U = ", ".join(f"v.{c}" for c in VISIT_COLUMNS.split(", "))
LATEST_VISIT = (
    "LEFT JOIN visits v ON v.url_id=u.id AND v.generation="
    "(SELECT max(generation) FROM visits WHERE url_id=u.id AND generation<?)"
)
UPGRADES = {  # format → the statements that bring it to the next one
    1: ["ALTER TABLE urls ADD COLUMN meta TEXT"],
    2: [
        "ALTER TABLE urls ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
        "DROP INDEX urls_queue",
        "CREATE INDEX urls_order ON urls (host, state, priority DESC, id)",
    ],
    3: [
        "ALTER TABLE urls ADD COLUMN generation INTEGER NOT NULL DEFAULT 1",
        *(statement for statement in _NEW_TABLES.split(";") if statement.strip()),
    ],
    4: ["ALTER TABLE urls ADD COLUMN href TEXT", "INSERT OR REPLACE INTO job VALUES ('legacy_keys', 1)"],
    5: [
        "ALTER TABLE urls ADD COLUMN proxy_attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE urls ADD COLUMN render INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE urls ADD COLUMN proxy_waiting_since REAL",
    ],
}
ATTEMPT_COLUMNS = "attempt, proxy_attempts, render, proxy_waiting_since"  # Attempts, in its order


def check_state(db: sqlite3.Connection, path: Path) -> int:
    """The format version of ``db``; StateError unless it is a crawler state file this crawler
    reads (this format or an older one it upgrades), undamaged."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id != APP_ID:
        raise StateError(
            f"{path}: not a crawler state file (foreign SQLite database); move it away or run with --fresh"
        )
    if not 1 <= version <= VERSION:
        raise StateError(
            f"{path}: state format {version}, this crawler reads {VERSION}; run with --fresh to start over"
        )
    result = db.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise StateError(f"{path}: state file is damaged ({result}); run with --fresh to start over")
    return int(version)


def upgrade(db: sqlite3.Connection, version: int, records: Path) -> None:
    """Bring a state file of an older format to this one, in one transaction."""
    if version == VERSION:
        return
    db.execute("BEGIN")
    for v in range(version, VERSION):
        for statement in UPGRADES[v]:
            db.execute(statement)
    if version < 4:
        db.executemany(
            f"INSERT OR REPLACE INTO visits SELECT id, 1, {', '.join('?' * 9)} FROM urls WHERE url=?",
            ((*visit_row(v), url) for url, v in _record_visits(records)),
        )
    if version < 5:
        _rekey(db)
    db.execute(f"PRAGMA user_version={VERSION}")
    db.execute("COMMIT")


def _rekey(db: sqlite3.Connection) -> None:
    """URLs saved under their old text get their dedup key; a URL whose key another row already
    holds is that row's page, and goes (records still name it: the upgrade only dedups)."""
    for rowid, url in db.execute("SELECT id, url FROM urls").fetchall():
        key = dedup_key(url)
        if key == url:
            continue
        if not db.execute("UPDATE OR IGNORE urls SET url=?, href=? WHERE id=?", (key, url, rowid)).rowcount:
            db.execute("DELETE FROM visits WHERE url_id=?", (rowid,))
            db.execute("DELETE FROM urls WHERE id=?", (rowid,))


def reconcile(db: sqlite3.Connection, records: Path, generation: int) -> int:
    """Make the store agree with records.jsonl: URLs of this generation with a record of it are
    done (matched by dedup key), the others (leased when the process died, or marked done without a record) queued.
    Returns how many URLs of this generation have their record."""
    db.execute("CREATE TEMP TABLE recorded (url TEXT PRIMARY KEY) WITHOUT ROWID")
    db.executemany(
        "INSERT OR IGNORE INTO recorded VALUES (?)", ((dedup_key(u),) for u in read_jsonl_urls(records, generation))
    )
    db.execute(
        f"UPDATE urls SET state={QUEUED} WHERE generation=? AND state!={QUEUED} "
        "AND url NOT IN (SELECT url FROM recorded)",
        (generation,),
    )
    db.execute(f"UPDATE urls SET state={DONE} WHERE state!={DONE} AND url IN (SELECT url FROM recorded)")
    # this generation's URLs still queued now are those without a record, and a visit of theirs was
    # saved before a crash took its record (found by state: a 4th of the time of asking `recorded`)
    db.execute(
        "DELETE FROM visits WHERE generation=? AND url_id IN "
        f"(SELECT id FROM urls WHERE generation=? AND state={QUEUED})",
        (generation, generation),
    )
    count: int = db.execute("SELECT count(*) FROM recorded").fetchone()[0]
    db.execute("DROP TABLE recorded")
    return count


def attempts_row(a: Attempts) -> tuple[object, ...]:
    """Attempts as the values of ATTEMPT_COLUMNS."""
    return (a.attempt, a.proxy_attempts, int(a.render), a.proxy_waiting_since)


def attempts_of(row: tuple[Any, ...]) -> Attempts:
    """Attempts from the values of ATTEMPT_COLUMNS (a URL never retried shares FIRST_ATTEMPT)."""
    attempt, proxy_attempts, render, waiting_since = row
    if not (attempt or proxy_attempts or render) and waiting_since is None:
        return FIRST_ATTEMPT
    return Attempts(attempt, proxy_attempts, bool(render), waiting_since)


def visit_row(v: Visit) -> tuple[object, ...]:
    """A visit as the values of VISIT_COLUMNS."""
    return (v.status, int(v.ok), v.digest, v.path, v.etag, v.last_modified, v.fetched_at, v.changed_at, v.revisit)


def visit_of(row: tuple[Any, ...]) -> Visit | None:
    """The visit in the values of VISIT_COLUMNS (None: the URL was never fetched)."""
    status, ok, digest, path, etag, last_modified, fetched_at, changed_at, revisit = row
    if ok is None:
        return None
    return Visit(status, bool(ok), digest, path, etag, last_modified, fetched_at or 0.0, changed_at or 0.0, revisit)


def _record_visits(records: Path) -> Iterator[tuple[str, Visit]]:
    for line in read_jsonl(records):
        yield line["url"], visit_from_record(line)
