"""The Frontier contract, run against every backend (a Redis backend will join this list)."""

from __future__ import annotations

import pytest

from crawler.frontier import Request
from crawler.frontier.memory import MemoryFrontier
from crawler.frontier.sqlite import SqliteFrontier


@pytest.fixture(params=["memory", "sqlite"])
async def frontier(request, tmp_path):
    f = MemoryFrontier() if request.param == "memory" else SqliteFrontier(tmp_path / "s.sqlite", tmp_path / "r.jsonl")
    await f.open()
    yield f
    await f.close()


def req(path: str, host: str = "a:80") -> Request:
    return Request(f"http://{host.split(':')[0]}{path}", host)


async def test_add_deduplicates_and_respects_limit(frontier):
    fresh = await frontier.add([req("/1"), req("/2"), req("/1")])
    assert [r.url for r in fresh] == ["http://a/1", "http://a/2"]
    assert await frontier.add([req("/2")]) == []
    assert [r.url for r in await frontier.add([req("/3"), req("/4"), req("/5")], limit=2)] == ["http://a/3", "http://a/4"]
    assert await frontier.seen("http://a/3") and not await frontier.seen("http://a/5")
    assert frontier.queued() == 4 and frontier.admitted() == 4


async def test_lease_is_fifo_per_host_and_release_puts_back_at_the_head(frontier):
    await frontier.add([req("/1"), req("/2"), req("/x", "b:80")])
    assert sorted(frontier.hosts_with_work()) == ["a:80", "b:80"]
    first = await frontier.lease("a:80")
    assert first.url == "http://a/1" and frontier.queued() == 2
    first.attempt = 1
    await frontier.release(first)
    again = await frontier.lease("a:80")
    assert again.url == "http://a/1" and again.attempt == 1
    await frontier.done(again)
    assert (await frontier.lease("a:80")).url == "http://a/2"
    assert await frontier.lease("a:80") is None
    assert (await frontier.lease("b:80")).url == "http://b/x"
    assert frontier.queued() == 0 and frontier.admitted() == 3
    await frontier.commit()
