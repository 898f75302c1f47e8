"""Crawls that meet blocked pages (issue 28), against real local servers and real proxies
(tinyproxy binds its outgoing side to its own loopback address, so the site tells the proxies
apart by the connection's remote address): a challenge page ends as ``blocked`` or is fetched
again under another proxy, never becomes an item, gives no links and leaves no page file; the host
is slowed; the counts reach the stats, the summary, ``stats.jsonl``, /metrics and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from selectolax.lexbor import LexborHTMLParser

from crawler.commands.report import build
from crawler.core.request import Counts
from crawler.observe.metrics import render
from tests.helpers.cli import run_cli
from tests.helpers.output import read_records, table

FIXTURE = (Path(__file__).parent / "fixtures" / "blocked" / "cloudflare-challenge.html").read_text()
CHALLENGE = FIXTURE.replace("</body>", '<p class="price">9.99</p><a href="/from-challenge">more</a></body>')
PRICE = [{"name": "price", "fields": {"price": {"css": "p.price", "required": True}}}]
CF_HEAD = {"cf-mitigated": "challenge", "Server": "cloudflare"}


def items(out: Path) -> list[dict]:
    path = out / "items.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def metrics(text: str) -> dict[str, float]:
    return {
        f"{s.name}{sorted(s.labels.items())}": s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.parametrize("parser", ["process", "inline"])
async def test_a_challenge_page_ends_blocked_with_no_item_no_link_and_no_file(site, crawl, parser):
    host = "127.0.0.1"
    key = f"{host}:{site.port}"
    site.html(host, "/", '<a href="/p1">1</a><a href="/challenge">2</a><a href="/wall">3</a>')
    site.html(host, "/p1", '<p class="price">4.50</p>')

    async def challenge(_: web.Request) -> web.Response:  # a 200 challenge: the parser tells it by its title
        return web.Response(text=CHALLENGE, content_type="text/html")

    async def wall(_: web.Request) -> web.Response:  # a 403 one: the fetcher tells it by its header
        return web.Response(status=403, text=CHALLENGE, content_type="text/html", headers=CF_HEAD)

    site.route(host, "/challenge", challenge)
    site.route(host, "/wall", wall)
    r = await crawl(start_urls=[site.url(host)], ignore_robots=True, parser=parser, extract=PRICE, retries=2)
    page, head = r.by_url[site.url(host, "/challenge")], r.by_url[site.url(host, "/wall")]
    assert page["status"] == 200 and page["error"]["kind"] == "blocked" and page["path"] is None
    assert page["error"]["message"] == "Cloudflare challenge: title 'Just a moment...'"
    assert head["status"] == 403 and head["error"]["kind"] == "blocked" and head["path"] is None
    assert head["error"]["message"] == "Cloudflare challenge: cf-mitigated: challenge"
    assert page["attempts"] == head["attempts"] == 3  # no proxy to move to: the normal retries, then the record
    assert site.hits[(host, "/challenge")] == site.hits[(host, "/wall")] == 3
    assert [item["price"] for item in items(r.out)] == ["4.50"]  # no challenge page became an item
    assert site.hits[(host, "/from-challenge")] == 0 and len(r.records) == 4  # its link was not followed
    assert not (r.out / "pages" / f"127.0.0.1_{site.port}" / "challenge").exists()
    assert not (r.out / "pages" / f"127.0.0.1_{site.port}" / "wall").exists()
    assert r.stats.blocked == r.stats.hosts[key].blocked == 6 and r.stats.errors["blocked"] == 2
    # AIMD: each blocked answer is an overload signal; the host ends slowed down
    assert r.stats.hosts[key].throttles >= 1
    (slowed,) = [t for t in r.crawl.parts.limiter.throttled().hosts if t.host == key]
    assert slowed.throttles >= 1 and slowed.least < slowed.limit


@pytest.mark.parametrize("answer", ["page", "head"])
async def test_a_site_that_challenges_one_proxy_is_crawled_through_the_other(site, crawl, proxies, answer):
    walled, clean = await proxies("http", 2)
    host = "127.0.0.1"
    key = f"{host}:{site.port}"

    async def page(request: web.Request) -> web.Response:
        if request.remote == walled.source:
            if answer == "head":
                return web.Response(status=403, text=CHALLENGE, content_type="text/html", headers=CF_HEAD)
            return web.Response(text=CHALLENGE, content_type="text/html")
        if request.path == "/":
            return web.Response(text="".join(f'<a href="/p{i}">{i}</a>' for i in range(10)), content_type="text/html")
        return web.Response(text=f'<p class="price">{request.path}</p>', content_type="text/html")

    site.route(host, "*", page)
    r = await crawl(
        start_urls=[site.url(host)],
        proxies=[walled.url(), clean.url()],
        ignore_robots=True,
        proxy_cooldown=60,
        extract=PRICE,
    )
    assert len(r.records) == 11 and all(rec["status"] == 200 and rec["error"] is None for rec in r.records)
    assert {rec["proxy"] for rec in r.records} == {clean.id}
    assert sorted(item["price"] for item in items(r.out)) == sorted(f"/p{i}" for i in range(10))
    assert any(remote == walled.source for _, _, remote in site.remotes)  # the wall was met
    (used,) = [p for p in r.stats.proxies if p.id == walled.id]
    assert used.blocked >= 1 and used.bans >= used.blocked and used.state.startswith("cooling down")
    assert r.stats.blocked == r.stats.hosts[key].blocked == used.blocked
    assert r.stats.hosts[key].throttles >= 1  # blocked through a proxy still slows the host
    shown = metrics(render(r.stats, Counts(0, 0, 11), 0, r.stats.proxies))
    assert shown["crawler_blocked_total[]"] == used.blocked
    assert shown[f"crawler_proxy_blocked_total[('proxy', '{walled.id}')]"] == used.blocked
    assert shown[f"crawler_proxy_blocked_total[('proxy', '{clean.id}')]"] == 0
    assert shown[f"crawler_host_blocked_total[('host', '{key}')]"] == used.blocked
    doc = LexborHTMLParser(build(r.out).read_text())
    by_proxy = {cells[0]: cells[1] for cells in table(doc, "By proxy")}
    assert by_proxy == {walled.id: str(used.blocked)}
    assert {cells[0]: cells[1:] for cells in table(doc, "By host")} == {key: [str(used.blocked), "0"]}


async def test_a_site_that_challenges_every_proxy_ends_blocked_after_the_moves_and_the_retries(site, crawl, proxies):
    first, second = await proxies("http", 2)

    async def wall(_: web.Request) -> web.Response:
        return web.Response(status=403, text=CHALLENGE, content_type="text/html", headers=CF_HEAD)

    site.route("127.0.0.1", "/", wall)
    r = await crawl(
        start_urls=[site.url("127.0.0.1")],
        proxies=[first.url(), second.url()],
        ignore_robots=True,
        proxy_cooldown=0,  # a banned proxy is usable again at once: nothing to wait for
        proxy_retries=1,
        retries=1,
    )
    (record,) = r.records
    assert record["error"]["kind"] == "blocked" and record["status"] == 403
    # one move to another proxy (proxy_retries), then one retry, whose own move is spent already
    assert record["attempts"] == 2 and site.hits[("127.0.0.1", "/")] == 3 == r.stats.blocked
    assert sum(p.blocked for p in r.stats.proxies) == 3 and {p.blocked for p in r.stats.proxies} == {1, 2}


async def test_a_jobs_own_rules_of_each_type_through_the_cli_reach_the_report(site, tmp_path):
    host = "127.0.0.1"
    paths = {
        "/s451": web.Response(status=451, text="unavailable"),
        "/hdr": web.Response(text="<title>Shoes</title>", content_type="text/html", headers={"X-Shield": "challenge"}),
        "/ttl": web.Response(text="<title>Verify you are human</title>", content_type="text/html"),
        "/txt": web.Response(text="<p>Checking your browser before accessing</p>", content_type="text/html"),
        "/sel": web.Response(text="<form id=challenge-form></form>", content_type="text/html"),
        "/ok": web.Response(text="<title>Shoes</title><p>fine</p>", content_type="text/html"),
    }
    site.html(host, "/", "".join(f'<a href="{p}">{p}</a>' for p in paths))
    for path, answer in paths.items():

        async def handler(_: web.Request, answer: web.Response = answer) -> web.Response:
            return web.Response(status=answer.status, text=answer.text, headers=answer.headers)

        site.route(host, path, handler)
    out = tmp_path / "out"
    job = tmp_path / "job.yaml"
    job.write_text(
        yaml.safe_dump(
            {
                "start_urls": [site.url(host)],
                "output": str(out),
                "ignore_robots": True,
                "retries": 0,
                "blocked_defaults": False,
                "blocked_when": [
                    {"status": [451]},
                    {"header": "x-shield: ^challenge$"},
                    {"title": "^Verify you are human$"},
                    {"text": "Checking your browser"},
                    {"selector": "form#challenge-form", "name": "shield form"},
                ],
            }
        )
    )
    code, _, err = await run_cli("run", str(job))
    assert code == 0, err
    assert "blocked pages: 5 answers" in err and "errors: blocked 5;" in err
    reasons = {r["url"].rsplit("/", 1)[1]: (r["error"] or {}).get("message") for r in read_records(out)}
    assert reasons == {
        "": None,
        "ok": None,
        "s451": "blocked_when[0]: status 451",
        "hdr": "blocked_when[1]: x-shield: challenge",
        "ttl": "blocked_when[2]: title 'Verify you are human'",
        "txt": "blocked_when[3]: text 'Checking your browser'",
        "sel": "shield form: selector form#challenge-form",
    }
    (final,) = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines() if '"final":true' in line]
    assert final["blocked"] == 5 and final["hosts"][f"{host}:{site.port}"]["blocked"] == 5
    assert final["errors_by_kind"] == {"blocked": 5}
    code, _, err = await run_cli("report", str(out))
    assert code == 0, err
    doc = LexborHTMLParser((out / "report.html").read_text())
    assert table(doc, "By host") == [[f"{host}:{site.port}", "5", "5"]]
    assert not [s for s in doc.css("section") if s.css_first("h2").text() == "By proxy"]  # no proxies: no table
