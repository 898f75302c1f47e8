"""The near-duplicate index of a shared job: the first URL of each page's content, for every worker.

The same answers as :class:`~crawler.content.simhash.NearIndex`, kept in Redis under the job's
prefix. A look-up and the recording of a new first are one Lua script, so when two workers meet
near-identical pages at once, exactly one of them is the first and the other is its duplicate.

Redis runs every worker's scripts on one thread, so a look-up must cost the same at any size of
the index. NearIndex's six 10-11-bit bands would not: their buckets hold N/2^11 hashes each. Here
the 64 bits are three blocks of 22, 21 and 21 bits (``BLOCKS``): two hashes within ``NEAR`` = 5
bits differ in at most 1 bit of some block (else in 2 + 2 + 2 = 6 or more). A hash is filed under
its three blocks' values; a look-up reads each block's value and its 21-22 one-bit neighbours, 67
fields of N/2^21 hashes each (under one at a million pages), then checks each candidate's distance.
"""

from __future__ import annotations

from crawler.content.simhash import NEAR
from crawler.redis.store import RedisStore

BLOCKS = ((42, 22), (21, 21), (0, 21))  # (shift, width): a 5-bit change leaves one within 1 bit
_TAG = 22  # a field is the block's number above its value: 3 bytes for every block


def block_fields(h: int) -> list[bytes]:
    """The fields of ``near_blocks`` a look-up of ``h`` reads: first the three ``h`` is filed
    under, then each block's one-bit neighbours."""
    exact: list[bytes] = []
    near: list[bytes] = []
    for n, (shift, width) in enumerate(BLOCKS):
        value = h >> shift & ((1 << width) - 1)
        exact.append(_field(n, value))
        near += (_field(n, value ^ 1 << bit) for bit in range(width))
    return exact + near


def _field(n: int, value: int) -> bytes:
    return (n << _TAG | value).to_bytes(3, "big")


class SharedNearIndex:
    """:meth:`NearIndex.first <crawler.content.simhash.NearIndex.first>` across the workers of a job."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    async def first(self, url: str, h: int) -> str | None:
        """The URL first seen by any worker with a hash within ``NEAR`` bits of ``h``, never ``url``
        itself; None when there is none, and then ``url`` is the first with ``h``."""
        keys = self._store.keys
        args = [url, h.to_bytes(8, "big"), NEAR, len(BLOCKS), *block_fields(h)]
        found = await self._store.script("NEAR_FIRST", [keys.near_firsts, keys.near_blocks], args)
        return None if found is None else str(found)
