"""What makes a shared job one job: its seeds, scope and rules, remembered in Redis.

Two jobs under one name on one Redis database would otherwise become one without a word (the
default name is the first seed's host): the second finds the first's URLs done and crawls
nothing, and its ``--fresh`` wipes the first. So the first worker stores what defines the job
(a fingerprint and a readable summary) in ``crawler:<job>:job``; a worker whose job differs stops
with one line naming the difference, and ``--fresh`` forgets only a job that is its own.
Per-worker settings (worker id, concurrency, output folder, politeness, proxies, caps that may be
raised to go on) are not part of it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from crawler.core.errors import ClusterError
from crawler.redis.store import RedisStore

# seeds, scope, and the rules that decide what is followed and extracted: the job keys whose
# values (as JSON, defaults left out) :mod:`crawler.wiring` gives ``claim`` as the job's summary
DEFINING = (
    "start_urls",
    "sitemaps",
    "allow_domains",
    "include",
    "exclude",
    "max_depth",
    "follow_nofollow",
    "follow",
    "extract",
    "parse",
)
SHOWN = 80  # characters of a differing value in the message


async def claim(store: RedisStore, ours: dict[str, Any], *, fresh: bool) -> None:
    """Make sure the job stored under this name is this job, the one ``ours`` (its defining
    settings) describes, storing it if none is; then with ``fresh`` forget it and store it anew.
    Raises ClusterError naming the first difference."""
    text = orjson.dumps(ours, option=orjson.OPT_SORT_KEYS).decode()
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    key = store.keys.job

    async def claim_once() -> None:
        stored = await store.script("CLAIM", [key], [fingerprint, text])
        differs = difference(orjson.loads(stored), ours) if stored is not None else None
        if differs:
            raise ClusterError(
                f"Redis at {store.shown} holds another job named {store.job!r}: {differs}; "
                "give this job its own name (--name, YAML name:)"
            )

    await claim_once()
    if fresh:
        await store.clear()
        await claim_once()


def difference(stored: dict[str, Any], ours: dict[str, Any]) -> str | None:
    """``start_urls differ (there: […], here: […])``, and which other settings differ; None if
    none does (a summary written by another version of the crawler)."""
    fields = [f for f in DEFINING if stored.get(f) != ours.get(f)]
    if not fields:
        return None
    first = fields[0]
    more = f"; also {', '.join(fields[1:])}" if fields[1:] else ""
    return f"{first} differ (there: {_shown(stored.get(first))}, here: {_shown(ours.get(first))}){more}"


def _shown(value: Any) -> str:
    text = "unset" if value is None else orjson.dumps(value).decode()
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"
