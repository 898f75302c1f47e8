"""Shared-job pieces on a real redis-server, in one process: lease expiry and a returning
worker's own leases, cluster-wide caps, `--fresh`, `crawler status` and `crawler merge`."""

from __future__ import annotations

import asyncio
import json
import time

from crawler.commands.merge import merge
from crawler.commands.status import describe
from crawler.config import Job
from crawler.core.request import Caps, Request
from crawler.engine import Crawl
from crawler.redis.frontier import RedisFrontier
from crawler.redis.store import RedisStore


def req(i: int, host: str = "a.test:80") -> Request:
    return Request(f"http://{host.split(':')[0]}/{i}", host)


def frontier(redis_url: str, worker: str, tmp_path, ttl: float = 30) -> RedisFrontier:
    store = RedisStore(redis_url, "unit", worker, ttl=ttl, wait=5)
    return RedisFrontier(store, tmp_path / worker / "records.jsonl")


async def test_a_dead_workers_leases_come_back_after_the_ttl(redis_url, tmp_path):
    dead = frontier(redis_url, "dead", tmp_path, ttl=5)  # never opened: no heartbeat renews its leases
    await dead.add([req(1), req(2)])
    taken = await dead.lease({"a.test:80": 2}, ttl=5)  # long enough for alive.open() on a busy machine
    assert len(taken) == 2
    alive = frontier(redis_url, "alive", tmp_path)
    await alive.open()
    assert await alive.lease({"a.test:80": 2}, ttl=30) == []  # leased by the other worker
    deadline = time.monotonic() + 30
    while not await alive.hosts_with_work() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    back = await alive.lease({"a.test:80": 2}, ttl=30)
    assert sorted(lease.request.url for lease in back) == ["http://a.test/1", "http://a.test/2"]
    await alive.close()
    await dead._store.redis.aclose()


async def test_a_returning_worker_settles_its_own_leases_at_once(redis_url, tmp_path):
    first = frontier(redis_url, "w1", tmp_path)
    await first.open()
    await first.add([req(i) for i in range(3)])
    leases = await first.lease({"a.test:80": 2}, ttl=30)
    (tmp_path / "w1").mkdir()
    recorded = leases[0].request.url  # its record reached the shard; "done" never reached Redis
    (tmp_path / "w1" / "records.jsonl").write_text(json.dumps({"url": recorded}) + "\n")
    await first._store.redis.aclose()  # killed: no close, no done
    again = frontier(redis_url, "w1", tmp_path)
    assert await again.open() == 1  # the recorded one is done
    counts = await again.counts()
    assert (counts.queued, counts.leased) == (2, 0)
    urls = [lease.request.url for lease in await again.lease({"a.test:80": 5}, ttl=30)]
    assert recorded not in urls and leases[1].request.url == urls[0]  # back at the head of the queue
    await again.close()


async def test_caps_hold_for_the_whole_cluster(redis_url, tmp_path):
    a, b = frontier(redis_url, "a", tmp_path), frontier(redis_url, "b", tmp_path)
    await a.open()
    await b.open()
    caps = Caps(total=10, per_host=4)
    batches = [[req(i * 10 + j, f"h{j % 3}:80") for j in range(10)] for i in range(6)]
    results = await asyncio.gather(*(f.add(batch, caps) for f, batch in zip([a, b] * 3, batches)))
    admitted = [r for fresh in results for r in fresh]
    assert len(admitted) == 10 == (await b.counts()).admitted
    assert max(sum(r.host == h for r in admitted) for h in ("h0:80", "h1:80", "h2:80")) <= 4
    await a.close()
    await b.close()


async def test_two_workers_one_max_pages_then_status_and_merge(site, redis_url, tmp_path):
    site.html("a.test", "/", "".join(f'<a href="/p{i}">p</a>' for i in range(50)))
    site.route("a.test", "*", _page)
    out = tmp_path / "out"
    jobs = [
        Job.model_validate(
            {
                "start_urls": [site.url("a.test")],
                "resolve": site.pin("a.test"),
                "output": out,
                "frontier": redis_url,
                "name": "capped",
                "worker_id": w,
                "max_pages": 20,
                "ignore_robots": True,
            }
        )
        for w in ("w1", "w2")
    ]
    stats = await asyncio.gather(*(Crawl(job).run() for job in jobs))
    assert sum(s.records for s in stats) == 20  # max_pages counts across the cluster
    text = await describe(redis_url.rsplit("/", 1)[0] + "/0/capped")
    assert "urls: 20 admitted, 20 done, 0 queued, 0 leased" in text and "finished" in text
    workers = [line for line in text.splitlines() if line.startswith("worker ")]
    assert workers and all(": stopped, " in line for line in workers)  # both have left
    assert f"host a.test:{site.port}: 20 done" in text
    merged = merge(out)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert merged.urls == len(records) == 20 and {r["worker"] for r in records} <= {"w1", "w2"}
    fresh = jobs[0].model_copy(update={"fresh": True, "max_pages": 5})
    assert (await Crawl(fresh).run()).records == 5  # --fresh forgot the job in Redis


async def _page(_request):
    from aiohttp import web

    return web.Response(text="<title>p</title>", content_type="text/html")


def test_merge_keeps_one_record_per_url_and_its_items(tmp_path):
    out = tmp_path / "out"
    for worker, lines, items in [
        (
            "w1",
            [
                {"url": "u1", "error": {"kind": "timeout"}, "fetched_at": "2026-01-01T00:00:02", "path": None},
                {"url": "u2", "error": None, "fetched_at": "2026-01-01T00:00:01", "path": "pages/u2.html"},
            ],
            [{"url": "u2", "n": 1}],
        ),
        (
            "w2",
            [
                {"url": "u1", "error": None, "fetched_at": "2026-01-01T00:00:01", "path": "pages/u1.html"},
                {"url": "u2", "error": None, "fetched_at": "2026-01-01T00:00:00", "path": "pages/u2.html"},
            ],
            [{"url": "u1", "n": 2}, {"url": "u2", "n": 3}],
        ),
    ]:
        shard = out / "shards" / worker
        shard.mkdir(parents=True)
        body = "".join(json.dumps(line) + "\n" for line in lines)
        (shard / "records.jsonl").write_text(body + '{"url": "torn', encoding="utf-8")  # a kill's last line
        (shard / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    result = merge(out)
    records = {r["url"]: r for r in map(json.loads, (out / "records.jsonl").read_text().splitlines())}
    assert records["u1"]["worker"] == "w2"  # the success beats the later failure
    assert records["u2"]["worker"] == "w1"  # of two successes, the later one
    assert records["u2"]["path"] == "shards/w1/pages/u2.html"
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert sorted((i["url"], i["n"]) for i in items) == [("u1", 2), ("u2", 1)]
    assert (result.urls, result.torn, result.records) == (2, 2, 6)


def test_merge_keeps_each_crawl_of_a_url_and_the_csv_items_of_kept_records(tmp_path):
    """Each re-crawl generation keeps its own record; of two equal records the first shard's
    wins; CSV items follow their page's kept record; a killed merge's scratch file is no obstacle
    and none is left behind."""
    out = tmp_path / "out"
    same = {"error": None, "fetched_at": "2026-01-01T00:00:05", "path": None}
    for worker, lines, rows in [
        ("w1", [{"url": "u1", **same}, {"url": "u1", **same, "crawl": 2, "change": "unchanged"}], ["u1,1"]),
        ("w2", [{"url": "u1", **same}, {"url": "u2", **same}], ["u1,2", "u2,3"]),
    ]:
        shard = out / "shards" / worker
        shard.mkdir(parents=True)
        (shard / "records.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        (shard / "items.csv").write_text("url,n\n" + "".join(row + "\n" for row in rows))
    (out / ".merge.sqlite").write_bytes(b"left by a merge killed halfway")
    result = merge(out)
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert [(r["url"], r.get("crawl", 1), r["worker"]) for r in records] == [
        ("u1", 1, "w1"),
        ("u1", 2, "w1"),
        ("u2", 1, "w2"),
    ]
    assert (out / "items.csv").read_text().splitlines() == ["url,n", "u1,1", "u2,3"]
    assert (result.urls, result.items) == (3, 2)
    assert (out / "changes.jsonl").is_file()  # crawl 2 was the latest
    assert sorted(p.name for p in out.iterdir()) == ["changes.jsonl", "items.csv", "records.jsonl", "shards"]
