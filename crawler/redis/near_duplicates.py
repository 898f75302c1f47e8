"""The near-duplicate index of a shared job: the first URL of each page's content, for every worker.

The same answers as :class:`~crawler.content.simhash.NearIndex`, kept in Redis under the job's
prefix. A look-up and the recording of a new first are one Lua script, so when two workers meet
near-identical pages at once, exactly one of them is the first and the other is its duplicate.
"""

from __future__ import annotations

from crawler.content.simhash import NEAR, band_keys
from crawler.redis.store import RedisStore


class SharedNearIndex:
    """:meth:`NearIndex.first <crawler.content.simhash.NearIndex.first>` across the workers of a job."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    async def first(self, url: str, h: int) -> str | None:
        """The URL first seen by any worker with a hash within ``NEAR`` bits of ``h``, never ``url``
        itself; None when there is none, and then ``url`` is the first with ``h``."""
        keys = self._store.keys
        bands = [f"{n}:{value:x}" for n, value in enumerate(band_keys(h), 1)]
        found = await self._store.script("NEAR_FIRST", [keys.near, keys.near_bands], [url, f"{h:016x}", NEAR, *bands])
        return None if found is None else str(found)
