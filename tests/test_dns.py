"""The crawl's own resolver (``--dns-server``) against a real DNS server on 127.0.0.1 (dnsmasq, or
the tests' own when dnsmasq is missing): answers, TTLs, "no such name", timeouts, the cache's
bound, pins and ``block_private_ips``; then crawls that resolve every host through it."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from crawler.core.request import Counts
from crawler.core.usage import DnsUse
from crawler.net import dns
from crawler.net.dns import AresLookup, DnsSettings, NameNotFound
from crawler.net.resolver import BlockedAddress, CrawlResolver
from crawler.observe.metrics import render
from tests.helpers.cli import run_cli
from tests.helpers.dns import DnsServer, Zone, silent_udp

CORS = {"Access-Control-Allow-Origin": "*"}


class Clock:
    """Time the cache reads, moved by the test (TTLs expire without waiting for them)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def resolver(server: str, clock: Clock | None = None, **settings: float) -> CrawlResolver:
    dns = DnsSettings(servers=(server,), **settings)  # type: ignore[arg-type]
    return CrawlResolver({}, False, dns, clock=clock or Clock())


def addresses(found: list) -> list[str]:
    return [r["host"] for r in found]


async def test_names_resolve_through_the_server(dns_server: DnsServer) -> None:
    r = resolver(dns_server.address)
    try:
        assert addresses(await r.resolve("a.crawl.test", 80, socket.AF_INET)) == ["127.0.0.1"]
        assert sorted(addresses(await r.resolve("dual.test", 80, socket.AF_UNSPEC))) == ["127.0.0.1", "::1"]
        found = await r.resolve("public.test", 8080, socket.AF_INET)
        assert found[0]["host"] == "93.184.215.14" and found[0]["port"] == 8080
    finally:
        await r.close()


async def test_an_answer_is_kept_for_its_ttl_and_asked_again_after(dns_zone) -> None:
    server = dns_zone(Zone(answers={"ttl.test": ["127.0.0.1"]}, ttl=42))
    clock = Clock()
    r = resolver(server.address, clock)
    try:
        await r.resolve("ttl.test", 80, socket.AF_INET)
        clock.now += 41.5  # within the server's TTL (not the system resolver's 300 s)
        await r.resolve("ttl.test", 80, socket.AF_INET)
        assert (r.use.lookups, r.use.cached) == (1, 1)
        clock.now += 1.0  # past it
        await r.resolve("ttl.test", 80, socket.AF_INET)
        assert (r.use.lookups, r.use.cached) == (2, 1)
    finally:
        await r.close()


async def test_a_name_that_does_not_exist_is_not_found_and_kept_briefly(dns_server: DnsServer) -> None:
    clock = Clock()
    r = resolver(dns_server.address, clock, negative_ttl=60.0)
    try:
        for _ in range(2):
            with pytest.raises(NameNotFound, match=r"nowhere\.example"):
                await r.resolve("nowhere.example", 80, socket.AF_INET)
        assert (r.use.lookups, r.use.not_found, r.use.cached) == (1, 1, 1)
        clock.now += 61
        with pytest.raises(NameNotFound):
            await r.resolve("nowhere.example", 80, socket.AF_INET)
        assert r.use.lookups == 2
    finally:
        await r.close()


async def test_a_server_that_never_answers_times_out_and_is_not_cached() -> None:
    sock, address = silent_udp()
    r = resolver(address, timeout=0.2, tries=1)
    try:
        for _ in range(2):
            with pytest.raises(OSError) as caught:
                await r.resolve("a.crawl.test", 80, socket.AF_INET)
            assert not isinstance(caught.value, NameNotFound)
        assert (r.use.lookups, r.use.failures, r.use.cached) == (2, 2, 0)
    finally:
        await r.close()
        sock.close()


async def test_the_cache_keeps_the_most_recently_used_names_up_to_its_bound(dns_server: DnsServer) -> None:
    r = resolver(dns_server.address, cache=2)
    try:
        for name in ("a.crawl.test", "b.crawl.test", "a.crawl.test", "c.crawl.test"):
            await r.resolve(name, 80, socket.AF_INET)
        assert (r.use.lookups, r.use.cached) == (3, 1)
        await r.resolve("a.crawl.test", 80, socket.AF_INET)  # used recently: kept
        await r.resolve("b.crawl.test", 80, socket.AF_INET)  # least recently used: dropped for c
        assert (r.use.lookups, r.use.cached) == (4, 2)
    finally:
        await r.close()


async def test_many_requests_for_a_new_host_share_one_lookup(dns_server: DnsServer) -> None:
    r = resolver(dns_server.address)
    try:
        found = await asyncio.gather(*(r.resolve("burst.crawl.test", 80, socket.AF_INET) for _ in range(20)))
        assert all(addresses(f) == ["127.0.0.1"] for f in found)
        assert (r.use.lookups, r.use.cached) == (1, 19)
    finally:
        await r.close()


async def test_a_fresh_channel_takes_over_every_few_thousand_lookups(dns_server: DnsServer, monkeypatch) -> None:
    """c-ares keeps memory for every name one channel was asked (~2 KB each): lookups move to a new
    channel every RENEW_AFTER, and the old one is closed once its lookups are answered, none lost."""
    monkeypatch.setattr(dns, "RENEW_AFTER", 3)
    lookup = AresLookup(DnsSettings(servers=(dns_server.address,)))
    opened: list[object] = []
    start = lookup._start
    monkeypatch.setattr(lookup, "_start", lambda: opened.append(start()) or opened[-1])
    try:
        found = await asyncio.gather(*(lookup.addresses(f"n{i}.crawl.test", socket.AF_INET) for i in range(10)))
        assert [addrs for addrs, _ in found] == [[(socket.AF_INET, "127.0.0.1")]] * 10
        assert len(opened) == 4  # 3 + 3 + 3 + 1, each batch on its own channel
        assert len(lookup._old) == 3
        assert (await lookup.addresses("one.more.crawl.test", socket.AF_INET))[0] == [(socket.AF_INET, "127.0.0.1")]
        assert lookup._old == [] and len(opened) == 4  # the three answered channels were closed
    finally:
        await lookup.close()


async def test_pins_answer_before_the_server_is_asked(dns_server: DnsServer) -> None:
    dns = DnsSettings(servers=(dns_server.address,))
    r = CrawlResolver({("nowhere.example", 80): "127.0.0.9"}, False, dns)
    try:
        assert addresses(await r.resolve("nowhere.example", 80, socket.AF_INET)) == ["127.0.0.9"]
        assert r.use.lookups == 0
    finally:
        await r.close()


async def test_block_private_ips_applies_to_the_servers_answers(dns_server: DnsServer) -> None:
    dns = DnsSettings(servers=(dns_server.address,))
    r = CrawlResolver({}, True, dns)
    try:
        with pytest.raises(
            BlockedAddress, match=r"private\.test resolves only to non-public addresses \(10\.0\.0\.7\)"
        ):
            await r.resolve("private.test", 80, socket.AF_INET)
        assert addresses(await r.resolve("public.test", 80, socket.AF_INET)) == ["93.184.215.14"]
    finally:
        await r.close()


async def test_a_crawl_resolves_through_the_server_and_counts_it(site, crawl, dns_server: DnsServer) -> None:
    site.html("a.crawl.test", "/", f'<a href="{site.url("b.crawl.test", "/")}">b</a><a href="/x">x</a>')
    site.html("a.crawl.test", "/x", "x")
    site.html("b.crawl.test", "/", f'<a href="{site.url("gone.example", "/")}">gone</a>')
    r = await crawl(
        start_urls=[site.url("a.crawl.test")],
        dns_servers=[dns_server.address],
        allow_domains=["crawl.test", "gone.example"],
        retries=2,
    )
    assert {u: rec["status"] for u, rec in r.by_url.items() if rec["status"]} == {
        site.url("a.crawl.test"): 200,
        site.url("a.crawl.test", "/x"): 200,
        site.url("b.crawl.test"): 200,
    }
    gone = r.by_url[site.url("gone.example")]
    assert gone["error"]["kind"] == "dns" and gone["attempts"] == 1  # no such name: not retried
    assert r.stats.dns is not None and r.stats.dns.servers == (dns_server.address,)
    assert (r.stats.dns.lookups, r.stats.dns.not_found) == (3, 1)  # a, b, gone: each asked once
    last = json.loads((r.out / "stats.jsonl").read_text().splitlines()[-1])
    assert last["dns"]["lookups"] == 3 and last["dns"]["not_found"] == 1
    metrics = {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for family in text_string_to_metric_families(render(r.stats, Counts(0, 0, 0), 0, []))
        for s in family.samples
    }
    assert metrics["crawler_dns_lookups_total[]"] == 3
    assert metrics["crawler_dns_failures_total[('kind', 'not_found')]"] == 1
    code, _, err = await run_cli("report", str(r.out))
    assert code == 0, err
    html = (r.out / "report.html").read_text()
    assert "Name lookups (DNS)" in html and "<td class=url>names not found</td><td class=n>1</td>" in html


async def test_a_timeout_is_a_dns_error_that_is_retried(site, crawl) -> None:
    sock, address = silent_udp()
    try:
        r = await crawl(
            start_urls=[site.url("a.crawl.test")],
            dns_servers=[address],
            timeout={"dns": 0.1},
            retries=2,
            ignore_robots=True,  # the page's own tries only (robots.txt would ask three times more)
        )
    finally:
        sock.close()
    record = r.by_url[site.url("a.crawl.test")]
    assert record["error"]["kind"] == "dns" and record["attempts"] == 3
    assert r.stats.dns == DnsUse(servers=(address,), lookups=3, failures=3, seconds=r.stats.dns.seconds)


async def test_a_rendered_page_and_what_it_loads_resolve_through_the_server(site, crawl, dns_server: DnsServer) -> None:
    """No pins, no system resolver that knows *.crawl.test: the browser reached both hosts only
    because the crawl's guard resolved them with the job's nameserver."""
    script = f"fetch('{site.url('api.crawl.test', '/data')}').then(r => r.text()).then(t => document.title = t)"
    site.html("js.crawl.test", "/", f"<h1>shell</h1><script>{script}</script>")
    site.route("api.crawl.test", "/data", lambda _: asyncio.sleep(0, web.Response(text="built", headers=CORS)))
    r = await crawl(
        start_urls=[site.url("js.crawl.test")],
        dns_servers=[dns_server.address],
        render=["*"],
        render_wait="networkidle",
        ignore_robots=True,
    )
    record = r.by_url[site.url("js.crawl.test")]
    assert record["rendered"] and record["status"] == 200 and record["title"] == "built"
    assert site.hits[("api.crawl.test", "/data")] == 1


async def test_the_summary_and_the_cli_name_the_servers(site, dns_server: DnsServer, tmp_path) -> None:
    site.html("a.crawl.test", "/", "hello")
    code, _, err = await run_cli(
        "crawl", site.url("a.crawl.test"), "--dns-server", dns_server.address, "--output", str(tmp_path / "o")
    )
    assert code == 0, err
    assert f"dns ({dns_server.address}): 1 lookups" in err


@pytest.mark.parametrize("bad", ["dns.example", "127.0.0.1:0", "127.0.0.1:x", "[::1]:99999"])
async def test_a_bad_nameserver_is_one_readable_line(bad: str, tmp_path) -> None:
    code, _, err = await run_cli("crawl", "http://a.crawl.test/", "--dns-server", bad, "--output", str(tmp_path / "o"))
    assert code != 0 and "Traceback" not in err
    assert err.count("\n") == 1 and "--dns-server" in err and bad in err


async def test_twenty_thousand_urls_through_the_server(site, crawl, dns_zone) -> None:
    """A broad crawl's worth of names (2,000 hosts × 10 pages), every one resolved by the server
    (once each: the answers' hour-long TTL outlasts the crawl)."""
    server = dns_zone(Zone(answers={}, wildcard={"crawl.test": "127.0.0.1"}, ttl=3600))
    hosts = [f"h{i}.crawl.test" for i in range(2000)]
    page = "".join(f'<a href="/p/{k}">{k}</a>' for k in range(1, 10))
    for host in hosts:
        site.html(host, "/", page)
        site.html(host, "*", "leaf")
        site.html(host, "/robots.txt", "", status=404)
    per_hub = 200
    for j in range(len(hosts) // per_hub):
        links = "".join(f'<a href="{site.url(h)}">{h}</a>' for h in hosts[j * per_hub : (j + 1) * per_hub])
        site.html("hub.crawl.test", f"/{j}", links)
    site.html("hub.crawl.test", "/", "".join(f'<a href="/{j}">{j}</a>' for j in range(len(hosts) // per_hub)))
    r = await crawl(
        start_urls=[site.url("hub.crawl.test")],
        dns_servers=[server.address],
        allow_domains=["crawl.test"],
        concurrency=64,
        quiet=True,
    )
    expected = {site.url(h, p) for h in hosts for p in ["/", *(f"/p/{k}" for k in range(1, 10))]}
    pages = [rec for rec in r.records if rec["url"] in expected]
    assert len(pages) == len(expected) == 20_000
    assert {rec["url"] for rec in pages} == expected and all(rec["status"] == 200 for rec in pages)
    assert r.stats.dns is not None and r.stats.dns.lookups == len(hosts) + 1 and r.stats.dns.failures == 0
