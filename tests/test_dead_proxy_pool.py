"""A pool whose only proxy refuses every connection: its URLs end with their ``proxy`` record soon
after ``proxy_wait``, the crawl ends, and SIGTERM drains at once instead of waiting out a
``proxy_wait`` in flight. The dead proxy is a real port: one nobody listens on, or a listener
that closes each connection (so the test can see the crawler trying it)."""

from __future__ import annotations

import asyncio
import signal
import sys

import yaml

from crawler.net.proxies import NoProxy, Pool, Proxy

URLS = 30


async def test_every_url_of_a_dead_pool_gets_its_proxy_record_and_the_crawl_ends(site, crawl, unused_tcp_port):
    dead = [site.url("p.test", f"/p{i}") for i in range(URLS)]
    live = [site.url("d.test", f"/d{i}") for i in range(5)]
    for i in range(5):
        site.html("d.test", f"/d{i}", f"direct {i}")
    # defaults but proxy_wait: robots.txt is asked for through the pool too
    r = await asyncio.wait_for(
        crawl(
            start_urls=[*dead, *live],
            resolve=site.pin("p.test", "d.test"),
            proxy_wait=2,
            retry_backoff=1,
            proxy_pools={"dead": [f"http://127.0.0.1:{unused_tcp_port}"]},
            proxy_rules=[{"match": "p.test", "proxy": "dead"}],
        ),
        90,
    )  # it took minutes: each URL waited on its own
    assert {u: r.by_url[u]["error"]["kind"] for u in dead} == {u: "proxy" for u in dead}
    assert all(r.by_url[u]["status"] == 200 for u in live)
    assert len(r.records) == URLS + 5
    assert "pool 'dead'" in r.by_url[dead[-1]]["error"]["message"]


async def test_sigterm_drains_at_once_while_requests_wait_for_a_dead_pool(site, tmp_path):
    tries = asyncio.Queue[None]()

    async def refuse(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tries.put_nowait(None)
        writer.close()  # every connection closed unanswered: the proxy is there, and useless

    proxy = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    await site.start()
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "start_urls": [site.url("p.test", f"/p{i}") for i in range(5)],
                "resolve": site.pin("p.test"),
                "proxy": f"http://127.0.0.1:{port}",
                "proxy_cooldown": 300,
                "proxy_wait": 120,
                "output": str(tmp_path / "o"),
                "progress": "off",
            }
        )
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", "run", str(job), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        await asyncio.wait_for(tries.get(), 60)  # robots.txt tried once; its next try waits for the proxy
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 40)  # the old drain waited out proxy_wait (120 s)
    finally:
        proxy.close()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode()


def test_a_pool_busy_with_slow_answers_is_not_dead():
    """One failure long ago, then both proxies at their cap with slow downloads: the waiting
    requests wait (a pool at work may free a proxy any moment); once every proxy is cooling down
    and nothing is at work, the pool counts as dead."""
    pool = Pool(
        "busy", [Proxy("p1", "http://p1:3128", "http"), Proxy("p2", "http://p2:3128", "http")], "round_robin", cap=1
    )
    pool.failing_since = 0.0  # p1 failed once, 10 s ago; nothing has finished since
    for proxy in pool.proxies:
        proxy.inflight = 1
    assert not NoProxy(pool, now=10.0, patience=2).hopeless
    for proxy in pool.proxies:
        proxy.inflight, proxy.cooling_until = 0, 30.0
    assert NoProxy(pool, now=10.0, patience=2).hopeless
