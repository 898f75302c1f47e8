"""``crawler status WHERE``: the progress of a crawl, stopped or running. WHERE is an output
directory (read from its state file) or a shared job's ``redis://host:port[/db]/JOB`` (read from
Redis): one command, one :func:`describe`."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

from yarl import URL

from crawler.core.errors import ConfigError, StateError
from crawler.frontier.sqlite_state import DONE, LEASED, QUEUED, check_state

TOP_HOSTS = 10
DEFINED_SHOWN = 300  # characters of the job's stored definition


async def describe(where: str) -> str:
    """A few lines saying what the crawl at ``where`` has done and has left."""
    if where.startswith(("redis://", "rediss://")):
        return await _shared(where)
    return _local(Path(where))


def _local(out: Path) -> str:
    """What the crawl in ``out`` has done and has left, from its state file."""
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


def split_job_url(text: str) -> tuple[str, str]:
    """``redis://host:port[/db]/JOB`` → (the Redis URL, the job name)."""
    try:
        url = URL(text)
        url.port  # noqa: B018  (yarl checks the port's range when it is read)
    except ValueError:
        url = URL()
    parts = [p for p in url.path.split("/") if p]
    if (
        url.scheme not in ("redis", "rediss")
        or not url.host
        or not parts
        or len(parts) > 2
        or (len(parts) == 2 and not parts[0].isdigit())
    ):
        raise ConfigError("expected OUT or redis://host:port[/db]/JOB")
    db = parts[0] if len(parts) == 2 else "0"
    return str(url.with_path(f"/{db}", keep_query=True)), parts[-1]  # the query may hold the password


async def _shared(text: str) -> str:
    """Queued, leased and done for the job; every worker with its last heartbeat; busiest hosts."""
    from crawler.redis.store import RedisStore  # redis-py loads only for a shared job

    redis_url, job = split_job_url(text)
    store = RedisStore(redis_url, job, "status", ttl=30, wait=5)
    r, k = store.redis, store.keys
    try:
        meta = _text(await store.call(lambda: r.hgetall(k.meta)))
        if not meta:
            return f"{store.shown} job {job!r}: no such job (nothing admitted yet)"
        defined = await store.call(lambda: r.hget(k.job, "summary"))
        workers = _text(await store.call(lambda: r.hgetall(k.workers)))
        done_by = _text(await store.call(lambda: r.hgetall(k.worker_done)))
        host_done = _text(await store.call(lambda: r.hgetall(k.host_done)))
        waiting = await store.call(lambda: r.srandmember(k.hosts, TOP_HOSTS))
        queued: dict[str, int] = {}
        for host in waiting if isinstance(waiting, list) else []:
            lst, rset = k.queue(str(host)), k.ranked(str(host))
            in_list = await store.call(lambda key=lst: r.llen(key))  # type: ignore[misc]
            in_set = await store.call(lambda key=rset: r.zcard(key))  # type: ignore[misc]
            queued[str(host)] = int(in_list) + int(in_set)
        seconds, micros = await store.call(lambda: r.time())
    finally:
        await store.redis.aclose()
    now = seconds * 1000 + micros // 1000
    n = {key: int(meta.get(key, 0)) for key in ("queued", "leased", "admitted", "done")}
    lines = [
        f"{store.shown} job {job!r}: {'finished' if not n['queued'] + n['leased'] else 'in progress'}",
        f"urls: {n['admitted']} admitted, {n['done']} done, {n['queued']} queued, {n['leased']} leased",
    ]
    if defined:  # what a worker's job must match (crawler.redis.identity)
        lines.append(f"job: {str(defined)[:DEFINED_SHOWN]}" + ("…" if len(str(defined)) > DEFINED_SHOWN else ""))
    for worker in sorted(set(workers) | set(done_by)):
        seen_ms, _, where = str(workers.get(worker, "")).partition(" ")
        if seen_ms:
            age = (now - int(seen_ms)) / 1000
            state = "alive" if age < 30 else f"silent for {age:.0f}s"
            lines.append(f"worker {worker}: {state} (pid, host: {where}), {done_by.get(worker, 0)} done")
        else:
            lines.append(f"worker {worker}: stopped, {done_by.get(worker, 0)} done")
    busiest = sorted(host_done.items(), key=lambda kv: -int(kv[1]))[:TOP_HOSTS]
    lines += [f"host {host}: {count} done, {queued.pop(host, 0)} queued" for host, count in busiest]
    lines += [f"host {host}: 0 done, {count} queued" for host, count in queued.items()]
    if len(host_done) > TOP_HOSTS:
        lines.append(f"... and {len(host_done) - TOP_HOSTS} more hosts")
    return "\n".join(lines)


def _text(mapping: dict[bytes | str, bytes | str]) -> dict[str, str]:
    return {str(key): str(value) for key, value in mapping.items()}
