"""The crawler's cookie jar (crawler/net/cookies.py): what a browser would send back, as plain data.
Unit tests, then real crawls over both transports, with and without identities: an identity's jar,
or the crawl's one jar (aiohttp's sessions keep none), which a resumed crawl gets back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from yarl import URL

from crawler import Hooks, Job, Outgoing
from crawler.engine import Crawl
from crawler.net.cookies import MAX_AGE, MAX_COOKIE, MAX_COOKIES, MAX_PER_DOMAIN, Jar
from tests.helpers.cli import run_cli
from tests.helpers.login_site import Visitors
from tests.helpers.output import read_records
from tests.helpers.timing import until


def sent(jar: Jar, url: str, extra: dict[str, str] | None = None) -> str | None:
    return jar.header(URL(url), extra)


def test_host_only_domain_path_and_secure_scopes():
    jar = Jar()
    jar.update(
        URL("http://shop.example.org/cart/view"),
        [
            "host=1",  # this host, the default path /cart
            "wide=2; Domain=.example.org; Path=/",
            "deep=3; Path=/cart/items",
            "tls=4; Path=/; Secure",
            "other=5; Domain=elsewhere.org",  # for another site: ignored
        ],
    )
    assert sent(jar, "http://shop.example.org/cart/x") == "host=1; wide=2"
    assert sent(jar, "http://shop.example.org/cart/items/1") == "deep=3; host=1; wide=2"  # longest path first
    assert sent(jar, "https://shop.example.org/") == "wide=2; tls=4"
    assert sent(jar, "http://sub.shop.example.org/cart/") == "wide=2"  # host-only stays on its host
    assert sent(jar, "http://example.org/cartoon") == "wide=2"  # /cart does not cover /cartoon
    assert sent(jar, "http://elsewhere.org/") is None


def test_extra_cookies_win_and_ip_hosts_keep_cookies():
    jar = Jar()
    jar.update(URL("http://127.0.0.1:8080/"), ["sid=abc", "lang=en"])
    assert sent(jar, "http://127.0.0.1:8080/a", {"lang": "fr", "job": "1"}) == "sid=abc; lang=fr; job=1"
    jar.update(URL("http://127.0.0.1:8080/"), ["x=1; Domain=0.0.1"])  # no domain cookies on an address
    assert "x=1" not in (sent(jar, "http://127.0.0.1:8080/") or "")


def test_expiry_deletion_and_what_counts_as_a_change():
    jar = Jar()
    url = URL("http://a.test/")
    jar.update(url, ["sid=1", "gone=x; Max-Age=0", "old=y; Expires=Wed, 21-Oct-2015 07:28:00 GMT"])
    assert sent(jar, "http://a.test/") == "sid=1" and jar.changes == 1
    jar.update(url, ["sid=1"])  # the same again: nothing to save
    assert jar.changes == 1
    jar.update(url, ["sid=2; Max-Age=3600"])
    assert jar.changes == 2 and sent(jar, "http://a.test/") == "sid=2"
    jar.update(url, ["sid=; Max-Age=0"])  # the site deletes it
    assert sent(jar, "http://a.test/") is None and jar.changes == 3 and len(jar) == 0
    jar.update(url, ["novalue", "=nameless", "x" * 5000 + "=1"])  # malformed: ignored
    assert len(jar) == 0 and jar.changes == 3


def test_the_jar_is_plain_data_that_round_trips():
    jar = Jar()
    jar.update(URL("https://a.test/x/y"), ["sid=1; Secure; HttpOnly", "pref=2; Domain=a.test; Max-Age=600"])
    data = json.loads(json.dumps(jar.data()))
    again = Jar(data)
    for url in ("https://a.test/x/z", "http://b.a.test/", "https://a.test/"):
        assert sent(again, url) == sent(jar, url)
    (pref,) = [c for c in data if c[0] == "pref"]
    assert pref[6] > time.time() + 500  # an absolute deadline, not a Max-Age that restarts on load


def test_a_jar_is_bounded_per_site_and_in_all():
    jar = Jar()
    jar.update(URL("http://shop.test/"), ["sid=keep"])
    jar.update(URL("http://a.test/"), [f"c{i}=v" for i in range(MAX_PER_DOMAIN + 50)])
    assert len(jar) == 1 + MAX_PER_DOMAIN
    assert "c0=" not in (sent(jar, "http://a.test/") or "")  # the oldest of a.test went first
    assert sent(jar, "http://shop.test/") == "sid=keep"  # a.test's cookies did not push out shop.test's
    sites = MAX_COOKIES // MAX_PER_DOMAIN + 2
    for n in range(sites):
        jar.update(URL(f"http://s{n}.test/"), [f"c{i}=v" for i in range(MAX_PER_DOMAIN)])
    assert len(jar) == MAX_COOKIES
    assert sent(jar, "http://shop.test/") is None and sent(jar, f"http://s{sites - 1}.test/") is not None


def test_odd_max_age_and_expires_are_ignored_or_capped_never_raised():
    jar = Jar()
    url = URL("http://a.test/")
    jar.update(
        url,
        [
            "sq=1; Max-Age=\u00b2",
            "huge=2; Max-Age=" + "9" * 5000,
            "far=3; Expires=Wed, 21 Oct 99999999999999999999 07:28:00 GMT",
        ],
    )
    jar.update(url, ["neg=4; Max-Age=-" + "9" * 400, "ok=5"])
    assert sent(jar, "http://a.test/") == "sq=1; huge=2; far=3; ok=5"
    (huge,) = [c for c in jar.data() if c[0] == "huge"]
    assert huge[6] <= time.time() + MAX_AGE  # no cookie lives past 400 days


def test_a_cookie_for_a_public_suffix_is_refused_and_reaches_no_other_site():
    jar = Jar()
    jar.update(URL("http://a.example.co.uk/"), ["wide=1; Domain=co.uk", "dot=2; Domain=.CO.UK", "tld=3; Domain=uk"])
    assert len(jar) == 0 and jar.changes == 0
    assert sent(jar, "http://b.other.co.uk/") is None
    assert sent(jar, "http://a.example.co.uk/") is None  # refused, not narrowed to its host


def test_a_cookie_for_the_sites_own_domain_reaches_its_other_hosts():
    jar = Jar()
    jar.update(URL("http://a.example.co.uk/"), ["sid=1; Domain=example.co.uk"])
    assert sent(jar, "http://b.example.co.uk/") == "sid=1"
    assert sent(jar, "http://example.co.uk/") == "sid=1"
    assert sent(jar, "http://b.other.co.uk/") is None


def test_the_private_section_counts_a_hosting_domain_as_a_suffix():
    jar = Jar()  # github.io is in the list's private section: each user's site is a site of its own
    jar.update(URL("https://alice.github.io/"), ["wide=1; Domain=github.io", "own=2; Domain=alice.github.io"])
    assert sent(jar, "https://mallory.github.io/") is None
    assert sent(jar, "https://docs.alice.github.io/") == "own=2"


def test_a_domain_that_is_the_suffix_host_itself_stays_on_that_host():
    jar = Jar()
    jar.update(URL("https://github.io/"), ["sid=1; Domain=github.io"])
    assert sent(jar, "https://github.io/") == "sid=1"
    assert sent(jar, "https://alice.github.io/") is None  # host-only: not sent to the sites under it


def test_one_label_hosts_keep_their_domain_cookies():
    jar = Jar()  # not looked up in the list (whose * rule would make it a suffix): as before the list
    jar.update(URL("http://localhost:8080/"), ["sid=1; Domain=localhost"])
    assert sent(jar, "http://localhost:8080/") == "sid=1"
    assert sent(jar, "http://app.localhost:8080/") == "sid=1"


@pytest.mark.parametrize("identities", [None, 1])
@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
async def test_a_cookie_for_a_public_suffix_is_not_sent_to_another_site(site, crawl, transport, identities):
    hosts = ("shop.example.co.uk", "b.example.co.uk", "other.co.uk")
    links = "".join(f'<a href="{site.url(h)}">{h}</a>' for h in hosts[1:])

    async def shop(_: web.Request) -> web.Response:
        response = web.Response(text=links, content_type="text/html")
        response.headers.add("Set-Cookie", "wide=1; Domain=co.uk; Path=/")  # for every *.co.uk: refused
        response.headers.add("Set-Cookie", "own=2; Domain=example.co.uk; Path=/")
        return response

    site.route(hosts[0], "/", shop)
    for host in hosts[1:]:
        site.html(host, "/", "")
    r = await crawl(
        start_urls=[site.url(hosts[0])],
        resolve=site.pin(*hosts),
        allow_domains=["example.co.uk", "other.co.uk"],
        ignore_robots=True,
        identities=identities,
        transport=transport,
    )
    assert sorted(rec["url"] for rec in r.records) == sorted(site.url(h) for h in hosts)
    sent = {URL(f"http://{h['Host']}").host: h.get("Cookie") for h in site.headers}
    assert sent == {hosts[0]: None, hosts[1]: "own=2", hosts[2]: None}


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
async def test_the_cookie_header_is_the_jars_then_the_jobs_then_the_hooks(site, tmp_path, transport):
    seen: dict[str, list[str]] = {}

    def page(links: str, *cookies: str):
        async def handler(request: web.Request) -> web.Response:
            seen[request.path] = request.headers.getall("Cookie", [])
            response = web.Response(text=links, content_type="text/html")
            for cookie in cookies:
                response.headers.add("Set-Cookie", cookie)
            return response

        return handler

    big = f"big={'x' * MAX_COOKIE}; Path=/"  # longer than a browser keeps: ignored
    odd = ("odd=1; Max-Age=" + "9" * 5000, "far=1; Expires=Wed, 21 Oct 99999999999999999999 07:28:00 GMT")
    site.route("jar.test", "/", page('<a href="/next">n</a>', "sid=site; Path=/", "both=site; Path=/", big, *odd))
    site.route("jar.test", "/next", page(""))

    def hook(req: Outgoing) -> None:
        req.cookies["hook"] = "1"

    job = Job.model_validate(
        {
            "start_urls": [site.url("jar.test")],
            "resolve": site.pin("jar.test"),
            "output": str(tmp_path / "o"),
            "ignore_robots": True,
            "transport": transport,
            "cookies": {"both": "job", "job": "1"},  # over the jar's same-named cookie
            "headers": {"Cookie": "pref=job"},  # joined into the one Cookie header, first
        }
    )
    await Crawl(job, hooks=Hooks(request=hook)).run()
    assert seen == {
        "/": ["pref=job; both=job; job=1; hook=1"],
        "/next": ["pref=job; sid=site; both=job; odd=1; far=1; job=1; hook=1"],  # odd dates cost no page
    }


async def test_one_jar_serves_both_transports_of_a_crawl(site, crawl):
    seen: dict[str, str | None] = {}

    def page(link: str, cookie: str):
        async def handler(request: web.Request) -> web.Response:
            seen[request.path] = request.headers.get("Cookie")
            response = web.Response(text=f'<a href="{link}">n</a>', content_type="text/html")
            response.headers.add("Set-Cookie", cookie)
            return response

        return handler

    site.route("mix.test", "/", page("/curl/page", "a=1; Path=/"))  # over aiohttp
    site.route("mix.test", "/curl/page", page("/after", "c=2; Path=/"))  # over curl
    site.route("mix.test", "/after", page("/", "a=3; Path=/"))  # over aiohttp
    r = await crawl(
        start_urls=[site.url("mix.test")],
        resolve=site.pin("mix.test"),
        ignore_robots=True,
        transport_rules=[{"match": "*/curl/*", "transport": "curl"}],
    )
    assert {rec["url"].split("/", 3)[3]: rec["transport"] for rec in r.records} == {
        "": "aiohttp",
        "curl/page": "curl",
        "after": "aiohttp",
    }
    assert seen == {"/": None, "/curl/page": "a=1", "/after": "a=1; c=2"}


def saved_jar(out: Path) -> list[list[Any]]:
    """The crawl's cookie jar as its state.sqlite holds it (empty: none saved yet)."""
    state = out / "state.sqlite"
    if not state.exists():
        return []
    try:
        with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM job WHERE key='cookies'").fetchone()
    except sqlite3.Error:  # not created yet
        return []
    return json.loads(row[0]) if row else []


async def test_the_crawls_cookies_survive_a_kill(site, tmp_path):
    """Without identities the crawl is one visitor: killed and resumed, it goes on with the cookie
    the site gave it before, as a browser reopened on the same profile would."""
    visitors = Visitors(site, "v.test", pages=30, hold_from=10)
    out = tmp_path / "o"
    seed = site.url("v.test", "/visit/p0")
    args = ["crawl", seed, "-o", str(out), "-q", "--ignore-robots", "--per-host", "1", "--resolve", *site.pin("v.test")]
    first = await asyncio.create_subprocess_exec(sys.executable, "-m", "crawler", *args, stderr=asyncio.subprocess.PIPE)
    await until(lambda: saved_jar(out), "the jar saved with the site's cookie")
    first.kill()
    assert await first.wait() == -9
    before = {rec["url"] for rec in read_records(out)}
    assert visitors.given == ["1"]
    visitors.gate.set()
    code, _, err = await run_cli(*args)
    assert code == 0, err
    records = read_records(out)
    assert len(records) == len({rec["url"] for rec in records}) == 30
    assert visitors.given == ["1"]  # no new visitor after the resume
    carried = dict(visitors.seen)
    after = [rec for rec in records if rec["url"] not in before]
    assert after and {carried[URL(rec["url"]).path] for rec in after} == {"1"}
