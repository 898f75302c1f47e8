"""The near-duplicate index of a job that is not shared: in memory, refilled on resume from the
firsts ``simhash.jsonl`` lists (a shared job's is in Redis: :mod:`crawler.redis.near_duplicates`)."""

from __future__ import annotations

from collections.abc import Iterable

from crawler.content.simhash import NearIndex


class LocalNearIndex:
    """:class:`~crawler.core.content.NearDuplicates` over an in-memory :class:`NearIndex`."""

    def __init__(self, known: Iterable[tuple[str, int]] = ()) -> None:
        self._index = NearIndex()
        for url, simhash in known:
            self._index.add(url, simhash)

    async def first(self, url: str, simhash: int) -> str | None:
        return self._index.first(url, simhash)

    def __len__(self) -> int:
        return len(self._index)
