"""Two jobs on one Redis database under one name (the default: the first seed's host) stay two:
the second stops with one line naming the difference, and its ``--fresh`` leaves the first's keys
alone. A real redis-server, the CLI as a user runs it."""

from __future__ import annotations

import redis

from crawler.redis.store import RedisStore
from tests.helpers.cli import run_cli


def snapshot(redis_url: str) -> dict[bytes, object]:
    """Every key in the database with its value (hashes and sets as dicts and sorted lists)."""
    client = redis.Redis.from_url(redis_url)  # bytes: the seen set holds binary fingerprints
    out: dict[bytes, object] = {}
    for key in client.scan_iter():
        kind = client.type(key).decode()
        out[key] = (
            client.hgetall(key)
            if kind == "hash"
            else sorted(client.smembers(key))
            if kind == "set"
            else client.lrange(key, 0, -1)
            if kind == "list"
            else client.dump(key)
        )
    client.close()
    return out


async def test_a_second_job_under_the_same_name_stops_and_its_fresh_wipes_nothing(site, redis_url, tmp_path):
    site.html("a.test", "/a", '<a href="/a2">x</a>')
    site.html("a.test", "/a2", "two")
    site.html("a.test", "/b", "b")
    await site.start()
    common = ["--frontier", redis_url, "--resolve", site.pin("a.test")[0], "--ignore-robots", "-q"]
    code, _, err = await run_cli(
        "crawl", site.url("a.test", "/a"), "-o", str(tmp_path / "a"), "--worker-id", "w1", *common
    )
    assert code == 0, err
    job_a = snapshot(redis_url)
    code, status, err = await run_cli("status", redis_url + "/a.test")
    assert code == 0 and f'job: {{"start_urls":["{site.url("a.test", "/a")}"]}}' in status, err
    assert any(key.startswith(b"crawler:a.test:") for key in job_a)  # named after the seed's host

    for extra in ([], ["--fresh"], ["--fresh", "--processes", "2"]):
        code, _, err = await run_cli(
            "crawl", site.url("a.test", "/b"), "-o", str(tmp_path / "b"), "--worker-id", "w1", *common, *extra
        )
        assert code == 1 and "Traceback" not in err, err
        assert err.strip().splitlines() == [
            f"error: Redis at {redis_url} holds another job named 'a.test': start_urls differ "
            f'(there: ["{site.url("a.test", "/a")}"], here: ["{site.url("a.test", "/b")}"]); '
            "give this job its own name (--name, YAML name:)"
        ]
        assert snapshot(redis_url) == job_a  # job A untouched, --fresh included
    assert not (tmp_path / "b" / "shards" / "w1" / "records.jsonl").exists()

    # another worker of job A, with its own worker settings, joins it
    code, _, err = await run_cli(
        "crawl",
        site.url("a.test", "/a"),
        "-o",
        str(tmp_path / "a2"),
        "--worker-id",
        "w2",
        "--concurrency",
        "3",
        "--per-host",
        "1",
        *common[:-1],
    )
    assert code == 0 and "Resumed: 2 URLs were already done" in err, err
    code, _, err = await run_cli(
        "crawl", site.url("a.test", "/b"), "-o", str(tmp_path / "b"), "--name", "job-b", *common
    )
    assert code == 0, err  # under its own name, job B runs
    assert (tmp_path / "b" / "shards").is_dir()


async def test_fresh_forgets_exactly_its_own_keys(redis_url):
    """A name from a seed's host may hold glob characters: ``a*b`` must not take ``aXb`` along."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    for job in ("a*b", "aXb", "a", "a*b.c"):
        client.hset(f"crawler:{job}:meta", "done", 1)
        client.rpush(f"crawler:{job}:q:{{h:80}}", "x")
    store = RedisStore(redis_url, "a*b", "w", ttl=30, wait=5)
    await store.clear()
    await store.redis.aclose()
    left = sorted(client.scan_iter())
    client.close()
    assert left == sorted(f"crawler:{job}:{key}" for job in ("aXb", "a", "a*b.c") for key in ("meta", "q:{h:80}"))
