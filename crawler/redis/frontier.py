"""Redis frontier: one job shared by many processes, on one machine or many.

Every change is one Lua script (:mod:`crawler.redis.scripts`), so dedup, the caps and the
counters stay exact however many workers add and lease at once. The seen set holds 8-byte
fingerprints of dedup keys (``crawler.core.urls``), not URLs; a URL's text lives in Redis only while it
is queued or leased. A job whose seen set was filled before dedup keys (no ``url_keys`` in its
meta hash) is also asked for the old keys of each new URL.

Leases expire (``lease_ttl``) unless their worker's heartbeat renews them; a worker that dies
loses no URL, since its leases go back to their queues when they expire (any worker reclaims
them). A lease is published as done only once its record is on disk (:meth:`flushed`), so a
crash can repeat a URL (``crawler merge`` keeps one record), never lose one. A worker that comes
back under the same id settles its own leases at once: done if its shard has their record,
queued again if not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import orjson
from yarl import URL

from crawler.core.records import crawl_of, read_jsonl, read_jsonl_urls, visit_from_record
from crawler.core.request import NO_CAPS, Attempts, Caps, Counts, Lease, Request, Visit
from crawler.core.urls import dedup_key, host_key, legacy_keys
from crawler.redis.store import RedisStore

RECLAIM_BATCH = 500
KNOWN_CACHE = 200_000  # URLs this process already offered to Redis (two generations, bounded)


def fingerprint(url: str) -> bytes:
    """8 bytes of the URL's hash: a collision among 10^8 URLs is about one in 3,000."""
    return hashlib.blake2b(url.encode(), digest_size=8).digest()


def encode(r: Request) -> str:
    """JSON: url, host, depth, parent, attempt, redirects, meta, priority, proxy_attempts, the
    last visit, render, proxy_waiting_since (the fields after redirects only as far as one is set).
    The whole attempt state travels with the URL, so a request that keeps meeting bad proxies ends
    however often it changes workers; a re-crawl's last visit travels with it to whichever worker
    fetches it."""
    a = r.attempts
    previous = list(dataclasses.astuple(r.previous)) if r.previous is not None else None
    fields: list[object] = [
        r.url,
        r.host,
        r.depth,
        r.parent,
        a.attempt,
        r.redirects,
        r.meta,
        r.priority,
        a.proxy_attempts,
        previous,
        a.render,
        a.proxy_waiting_since,
    ]
    while len(fields) > 6 and not fields[-1]:
        fields.pop()
    return orjson.dumps(fields).decode()


def decode(text: str) -> Request:
    url, host, depth, parent, attempt, redirects, *rest = orjson.loads(text)
    rest += [None] * (6 - len(rest))
    meta, priority, proxy_attempts, previous, render, waiting_since = rest
    return Request(
        url,
        host,
        depth,
        parent,
        redirects,
        meta,
        priority or 0,
        Visit(*previous) if previous else None,
        Attempts(attempt, proxy_attempts or 0, bool(render), waiting_since),
    )


class RedisFrontier:
    """The job's frontier in Redis; this process's records go to ``records`` (its shard)."""

    persistent = True

    def __init__(self, store: RedisStore, records: Path) -> None:
        self._store = store
        self._keys = store.keys
        self._records = records
        self._live: dict[int, Lease] = {}  # leases this worker holds (renewed by the heartbeat)
        self._done: list[Lease] = []  # done, not yet published: their records may not be on disk
        self._marked = 0  # how many of _done were done when the last commit began
        self._publishing = asyncio.Lock()
        self._reclaim_at = 0.0
        self.generation = 1
        self._known: set[str] = set()  # offered before: seen, or refused by a cap that only tightens
        self._known_old: set[str] = set()
        self._legacy = False  # the seen set holds fingerprints of URLs keyed the old way
        store.renewals.append(lambda: ([str(i) for i in self._live], []))

    async def open(self) -> int:
        """Join the job (``--fresh`` cleared it before: :func:`crawler.redis.identity.claim`)."""
        generation = await self._store.call(lambda: self._store.redis.hget(self._keys.meta, "generation"))
        self.generation = int(generation or 1)
        self._legacy = await self._saved_before_keys()
        await self._settle_own_leases()
        self._store.start_heartbeat()
        done = await self._store.call(lambda: self._store.redis.hget(self._keys.meta, "done"))
        return int(done or 0)

    async def add(self, requests: Sequence[Request], caps: Caps = NO_CAPS) -> list[Request]:
        """A URL offered once is never admitted later (the seen set and the counts behind the caps
        only grow), so this process asks Redis about each URL once: pages repeat their links."""
        requests = [r for r in requests if r.url not in self._known and r.url not in self._known_old]
        if self._legacy and requests:
            requests = await self._not_seen_before(requests)
        if not requests:
            return []
        admitted = await self._add(requests, caps)
        for r in requests:
            self._remember(r.url)
        return admitted

    async def _add(self, requests: Sequence[Request], caps: Caps = NO_CAPS, *, known: bool = False) -> list[Request]:
        """One ADD script for a batch; ``known``: a re-crawl's URLs, queued without dedup or caps."""
        k = self._keys
        keys = [
            k.seen,
            k.meta,
            k.host_admitted,
            k.hosts,
            *(k.ranked(r.host) if r.priority else k.queue(r.host) for r in requests),
        ]
        args: list[object] = [_cap(caps.total), _cap(caps.per_host), int(known)]
        for r in requests:
            args += [fingerprint(dedup_key(r.url)), r.host, encode(r), r.priority]
        admitted = await self._store.script("ADD", keys, args)
        return [requests[i - 1] for i in admitted]

    async def _saved_before_keys(self) -> bool:
        """Whether the job's seen set was filled by a crawler that keyed URLs the old way. A new
        job is marked before any worker adds to it, so a seen set found filled has its mark unless
        an old crawler filled it (asked in this order, workers starting together agree)."""
        redis, meta = self._store.redis, self._keys.meta
        if not await self._store.call(lambda: redis.scard(self._keys.seen)):
            await self._store.call(lambda: redis.hset(meta, "url_keys", 2))
            return False
        return not await self._store.call(lambda: redis.hget(meta, "url_keys"))

    async def _not_seen_before(self, requests: list[Request]) -> list[Request]:
        """The requests none of whose old keys is in the seen set (those are remembered as known)."""
        olds = [(r, [fingerprint(k) for k in legacy_keys(r.url)]) for r in requests]
        asked = [fp for _, fps in olds for fp in fps]
        if not asked:
            return requests
        hits = iter(await self._store.call(lambda: self._store.redis.smismember(self._keys.seen, asked)))
        kept = []
        for r, fps in olds:
            if any([next(hits) for _ in fps]):
                self._remember(r.url)
            else:
                kept.append(r)
        return kept

    def _remember(self, url: str) -> None:
        if len(self._known) >= KNOWN_CACHE // 2:
            self._known_old, self._known = self._known, set()
        self._known.add(url)

    async def lease(self, wants: Mapping[str, int], ttl: float) -> list[Lease]:
        k = self._keys
        keys = [k.meta, k.leases, k.expiry, k.hosts, *(key for h in wants for key in (k.queue(h), k.ranked(h)))]
        args: list[object] = [self._store.worker, round(ttl * 1000)]
        for host, n in wants.items():
            args += [host, n]
        out = await self._store.script("LEASE", keys, args)
        expires = int(out[0]) / 1000
        leases = [Lease(int(out[i]), decode(out[i + 1]), expires) for i in range(1, len(out), 2)]
        for lease in leases:
            self._live[lease.id] = lease
        return leases

    async def again(self, lease: Lease, attempts: Attempts) -> None:
        """The request goes back with its new attempts in its JSON: the queue holds them."""
        self._live.pop(lease.id, None)
        request = dataclasses.replace(lease.request, attempts=attempts)
        await self._requeue(lease.id, encode(request), request)

    async def done(self, lease: Lease, visit: Visit | None = None) -> None:
        self._done.append(lease)

    async def recrawl(self, due: Callable[[str, Visit | None], bool] | None) -> int | None:
        """Each worker brings the URLs of its own shard to a re-crawl: it joins the job's current
        generation if its shard has not yet, or starts the next one when the job is finished (one
        script: workers that start together agree on one generation). The seen set stays, so a
        link to a known URL never queues it without its last visit: its shard's worker does."""
        marker = self._records.parent / "joined"
        joined = int(marker.read_text()) if marker.exists() else (1 if self._records.exists() else 0)
        generation = self.generation
        if joined >= generation:
            k = self._keys
            generation = int(
                await self._store.script(
                    "NEXT_GENERATION", [k.meta, k.host_admitted, k.host_done, k.worker_done], [generation]
                )
            )
            if generation == self.generation:  # unfinished: this run goes on with it
                return None
        self.generation = generation
        again = 0
        requests = [r for r in _shard_requests(self._records, generation) if due is None or due(r.url, r.previous)]
        for start in range(0, len(requests), RECLAIM_BATCH):
            again += len(await self._add(requests[start : start + RECLAIM_BATCH], known=True))
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(generation))
        return again

    async def seen(self, url: str) -> bool:
        fp = fingerprint(dedup_key(url))
        return bool(await self._store.call(lambda: self._store.redis.sismember(self._keys.seen, fp)))  # type: ignore[arg-type]

    async def counts(self) -> Counts:
        async with self._publishing:  # not while a batch of done leases is half-way to Redis
            queued, leased, admitted = await self._store.call(
                lambda: self._store.redis.hmget(self._keys.meta, ["queued", "leased", "admitted"])
            )
            # this worker's finished leases count as finished here at once, though published later
            return Counts(int(queued or 0), int(leased or 0) - len(self._done), int(admitted or 0))

    async def hosts_with_work(self) -> list[str]:
        await self._reclaim()
        return [str(h) for h in await self._store.call(lambda: self._store.redis.smembers(self._keys.hosts))]

    async def commit(self) -> None:
        """Adds are in Redis as soon as ``add`` returns; here: mark the finished leases whose
        records the coming flush writes, and reclaim expired leases now and then."""
        self._marked = len(self._done)
        if time.monotonic() >= self._reclaim_at:
            self._reclaim_at = time.monotonic() + max(0.2, self._store.ttl / 3)
            await self._reclaim()

    async def flushed(self) -> None:
        """The records of the leases marked at the last commit are on disk: publish them done."""
        batch = self._done[: self._marked]
        if not batch:
            return
        async with self._publishing:
            await self._publish_done([(lease.id, lease.request.host) for lease in batch])
            del self._done[: len(batch)]
        self._marked = 0
        for lease in batch:
            self._live.pop(lease.id, None)

    async def close(self) -> None:
        """Leases still unpublished stay in Redis: the next run of this worker settles them."""
        await self._store.close()

    async def _publish_done(self, leases: list[tuple[int, str]]) -> None:
        """Tell Redis these leases (id, host) are finished: one script for the batch."""
        k = self._keys
        args: list[object] = [self._store.worker]
        for lease_id, host in leases:
            args += [lease_id, host]
        await self._store.script("DONE", [k.meta, k.leases, k.expiry, k.worker_done, k.host_done], args)

    async def _requeue(self, lease_id: int | str, enc: str, r: Request) -> None:
        k = self._keys
        await self._store.script(
            "REQUEUE",
            [k.meta, k.leases, k.expiry, k.hosts, k.queue(r.host), k.ranked(r.host)],
            [lease_id, r.host, enc, r.priority],
        )

    async def _reclaim(self) -> None:
        """Put leases whose worker stopped renewing them back into their queues."""
        k = self._keys
        out = await self._store.script("EXPIRED", [k.expiry, k.leases], [RECLAIM_BATCH])
        for i in range(0, len(out), 2):
            enc = out[i + 1].partition("\n")[2]
            await self._requeue(out[i], enc, decode(enc))

    async def _settle_own_leases(self) -> None:
        """Leases this worker id held when it stopped: done if the shard has their record,
        back to the queue if not."""
        held = await self._store.call(lambda: self._store.redis.hgetall(self._keys.leases))
        own = self._store.worker + "\n"
        mine = {int(i): str(v).partition("\n")[2] for i, v in held.items() if str(v).startswith(own)}
        if not mine:
            return
        requests = {lease_id: decode(enc) for lease_id, enc in mine.items()}
        wanted = {r.url for r in requests.values()}
        recorded = {u for u in read_jsonl_urls(self._records, self.generation) if u in wanted}
        finished: list[tuple[int, str]] = []
        for lease_id, request in requests.items():
            if request.url in recorded:
                finished.append((lease_id, request.host))
            else:
                await self._requeue(lease_id, mine[lease_id], request)
        if finished:
            await self._publish_done(finished)


def _shard_requests(records: Path, generation: int) -> list[Request]:
    """The URLs of a shard's records of earlier generations, each with its latest visit and the
    meta and priority a hook gave it. The
    visit's page file is named from the shards' common folder (``../<shard>/pages/…``), since
    another worker may fetch the URL (a 304 keeps pointing at this shard's file)."""
    latest = {line["url"]: line for line in read_jsonl(records) if crawl_of(line) < generation}
    shard = records.parent.name
    requests = []
    for url, line in latest.items():
        if line.get("path") and not str(line["path"]).startswith("../"):
            line["path"] = f"../{shard}/{line['path']}"
        requests.append(
            Request(
                url,
                host_key(URL(url, encoded=True)),
                line["depth"],
                line.get("parent"),
                meta=line.get("meta"),
                priority=int(line.get("priority", 0)),
                previous=visit_from_record(line),
            )
        )
    return requests


def _cap(value: int | None) -> int:
    return -1 if value is None else value
