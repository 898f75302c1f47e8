"""The summary the CLI prints is written from Stats' data by one formatter: its wording for the
proxies, throttled hosts, the browser and a shared job's Redis is pinned here, word for word."""

from __future__ import annotations

from crawler.core.usage import BrowserUse, ProxyUse, RedisUse, Throttled, Throttling
from crawler.observe.stats import Stats
from crawler.observe.summary import summary


def test_the_summary_writes_each_use_as_before():
    stats = Stats(records=4)
    stats.redis = RedisUse("shop", "redis://127.0.0.1:6379/0", "w1", 10)
    stats.browser = BrowserUse(21, 512.4, 20, 2, 1)
    stats.throttled = Throttling(
        (Throttled("a.test:80", 3, 1, 4, 2, 0.1), Throttled("b.test:80", 2, 2, 8, 8, 0.0, shared=True)), 5
    )
    stats.proxies = [ProxyUse("http://***@p.test:3128", 7, 1, 0, 2_500_000, "ok")]
    lines = summary(stats, "out/shop").splitlines()
    assert lines[2:] == [
        "shared job 'shop' at redis://127.0.0.1:6379/0, worker w1: redis: 10 round trips (2.5 per URL)",
        "browser: 21 pages rendered, 512 MB at most (read every 20 pages), 2 restarts over render_memory_mb, "
        "1 after a crash",
        "throttled hosts:",
        "  a.test:80: slowed 3 times, down to 1 of 4 slots; now 2 slots, 0.1s delay",
        "  b.test:80: slowed 2 times (all workers), down to 2 of 8 slots; now 8 slots, 0s delay",
        "  ... and 5 more hosts",
        "proxies:",
        "  http://***@p.test:3128: 7 requests, 1 failures, 0 bans, 2.5 MB, ok",
        "output: out/shop",
    ]


def test_a_crawl_without_them_says_nothing_of_them():
    text = summary(Stats(), "o")
    for word in ("shared job", "browser:", "throttled hosts:", "proxies:"):
        assert word not in text
    assert text.endswith("output: o")


def test_blocked_pages_are_counted_with_the_hosts_that_gave_most():
    stats = Stats(records=3)
    for host in ["a.test:80"] * 3 + ["b.test:80"]:
        stats.blocked_page(host)
    stats.proxies = [ProxyUse("http://p.test:3128", 9, 0, 4, 1_000_000, "ok", blocked=3)]
    lines = summary(stats, "o").splitlines()
    assert (
        "blocked pages: 4 answers (a.test:80 3, b.test:80 1), each retried or its URL's error (kind blocked)" in lines
    )
    assert "  http://p.test:3128: 9 requests, 0 failures, 4 bans (3 blocked pages), 1.0 MB, ok" in lines
    assert "blocked pages" not in summary(Stats(), "o")
