"""Browser URLs and their dedup keys, scope, and the URL → file path mapping under hostile input."""

from __future__ import annotations

import hashlib
import random
import shutil
import string
from pathlib import Path

import pytest
from aiohttp import web
from yarl import URL

from crawler.core.urls import InvalidURL, Scope, dedup_key, join, parse_seed
from crawler.sinks.pages import PageStore
from crawler.sinks.paths import MAX_NAME, relative_path


@pytest.mark.parametrize(
    "raw, browser, key",
    [
        (
            "HTTP://Example.COM:80/a/%7euser/b%2fc?q=%41#frag",
            "http://example.com/a/%7euser/b%2fc?q=%41",
            "http://example.com/a/~user/b%2Fc?q=A",
        ),
        ("https://a.com:443", "https://a.com/", "https://a.com/"),
        ("http://a.com:8080/x/../y/./z", "http://a.com:8080/y/z", "http://a.com:8080/y/z"),
        ("example.org/path", "http://example.org/path", "http://example.org/path"),
        ("http://Bücher.example/ü", "http://xn--bcher-kva.example/%C3%BC", "http://xn--bcher-kva.example/%C3%BC"),
        ("http://a.com/x?", "http://a.com/x", "http://a.com/x"),  # yarl cannot send an empty query: one page
    ],
)
def test_seed_is_the_browser_url_and_its_dedup_key_normalises_escapes(raw, browser, key):
    """The request keeps the page's percent-encoding as written; only the dedup key normalises it."""
    assert str(parse_seed(raw)) == browser
    assert dedup_key(str(parse_seed(raw))) == key


@pytest.mark.parametrize("bad", ["ftp://a.com/", "http://", "http://[::1", "http://a.com:99999/", "mailto:x@y"])
def test_invalid_seeds_are_rejected(bad):
    with pytest.raises(InvalidURL):
        parse_seed(bad)


def test_join_equivalent_links_give_one_dedup_key():
    base = URL("http://a.com/dir/page.html")
    forms = [
        "other.html",
        "./other.html#x",
        "../dir/other.html",
        "/dir/other.html",
        "HTTP://A.COM:80/dir/other.html",
        "/dir/%6Fther.html",
        "/dir/%6fther.html?",
    ]
    assert {dedup_key(str(join(base, f))) for f in forms} == {"http://a.com/dir/other.html"}


def test_scope_hosts_domains_regexes_depth():
    s = Scope(["http://a.com/"], max_depth=2)
    assert s.allows(URL("http://a.com/x"), 2) and not s.allows(URL("http://a.com/x"), 3)
    assert not s.allows(URL("http://sub.a.com/"))
    d = Scope(["http://a.com/"], allow_domains=["a.com"], include=[r"/docs/"], exclude=[r"\.pdf$"])
    assert d.allows(URL("http://sub.a.com/docs/x")) and d.allows(URL("http://a.com/docs/"))
    assert not d.allows(URL("http://nota.com/docs/")) and not d.allows(URL("http://a.com/docs/x.pdf"))
    assert not d.allows(URL("http://a.com/blog/"))


HOSTILE = [
    "http://a.com/../../../etc/passwd",
    "http://a.com/%2e%2e/%2e%2e/etc/passwd",
    "http://a.com/..%2f..%2fetc/passwd",
    "http://a.com/%2F%2Fetc%2Fpasswd",
    "http://a.com//etc/passwd",
    "http://a.com/" + "x" * 5000,
    "http://a.com/" + "é" * 300 + "/y",
    "http://a.com/CON",
    "http://a.com/nul.txt",
    "http://a.com/%00%01%FF%FE",
    "http://a.com/a\\..\\..\\b",
    "http://a.com/.",
    "http://a.com/.git/config",
    "http://a.com/_index.html",
    "http://a.com/",
    "http://a.com/?q=../../x",
    "http://a.com/x?" + "q" * 3000,
    "http://[::1]:8080/x",
]


def test_hostile_urls_stay_inside_pages_and_are_distinct():
    paths = {}
    for raw in HOSTILE:
        url = parse_seed(raw)
        rel = relative_path(url)
        assert all(len(part) <= MAX_NAME + 10 for part in rel.split("/"))
        assert ".." not in rel.split("/") and not rel.startswith("/") and "\\" not in rel
        assert paths.setdefault(rel, str(url)) == str(url), f"{raw} collides with {paths[rel]}"


def test_random_urls_never_collide_or_escape():
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "%./_-~!?=&;:@#\\ é"
    seen: dict[str, str] = {}
    for _ in range(3000):
        raw = "http://h.test/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        try:
            url = parse_seed(raw)
        except InvalidURL:
            continue
        rel = relative_path(url)
        assert ".." not in rel.split("/") and "" not in rel.split("/")
        assert seen.setdefault(rel, str(url)) == str(url)


async def test_page_store_writes_hostile_urls_inside_out(tmp_path: Path):
    store = PageStore(tmp_path)
    for i, raw in enumerate(HOSTILE):
        page = store.open(parse_seed(raw))
        await page.write(f"body {i}".encode())
        rel = await page.commit()
        target = (tmp_path / rel).resolve()
        assert target.is_relative_to((tmp_path / "pages").resolve())
        assert target.read_bytes() == f"body {i}".encode()
    assert not list((tmp_path / ".tmp").iterdir())


async def test_file_and_folder_conflict_keeps_both_bodies(tmp_path: Path):
    store = PageStore(tmp_path)
    written = {}
    for raw in ["http://a.com/x", "http://a.com/x/y", "http://a.com/p/q", "http://a.com/p"]:
        page = store.open(parse_seed(raw))
        await page.write(raw.encode())
        written[raw] = await page.commit()
    assert len(set(written.values())) == 4
    for raw, rel in written.items():
        assert (tmp_path / rel).read_bytes() == raw.encode()


async def test_a_host_folder_removed_during_the_crawl_is_made_again(tmp_path: Path):
    """The store makes a folder when a rename finds it missing (no makedirs per page); one deleted by hand (or a
    cleanup job) mid-crawl does not lose the next page of that host."""
    store = PageStore(tmp_path)
    for n, raw in enumerate(["http://a.com/1", "http://a.com/2"]):
        if n:
            shutil.rmtree(tmp_path / "pages")
        page = store.open(parse_seed(raw))
        await page.write(raw.encode())
        rel = await page.commit()
        assert (tmp_path / rel).read_bytes() == raw.encode()


async def test_urls_that_differ_in_an_escape_keep_their_own_page_files(site, crawl):
    """``?a=b&c`` and ``?a=b%26c`` are two URLs: each record's file holds its own body."""

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=f"query {request.raw_path}", content_type="text/plain")

    site.route("q.test", "/p", echo)
    site.html("q.test", "/", '<a href="/p?a=b&c">1</a><a href="/p?a=b%26c">2</a>')
    r = await crawl(start_urls=[site.url("q.test")], resolve=site.pin("q.test"), ignore_robots=True)
    pages = [rec for rec in r.records if "?" in rec["url"]]
    assert len(pages) == 2 and len({rec["path"] for rec in pages}) == 2
    for rec in pages:
        body = (r.out / rec["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == rec["sha256"] and body.endswith(rec["url"][-6:].encode())


async def test_large_body_spills_to_disk_and_is_whole(tmp_path: Path):
    store = PageStore(tmp_path, spill=1000)
    page = store.open(parse_seed("http://a.com/big"))
    chunks = [bytes([i]) * 700 for i in range(10)]
    for c in chunks:
        await page.write(c)
    assert page._file is not None  # past the spill size the body streams to the temp file
    rel = await page.commit()
    assert (tmp_path / rel).read_bytes() == b"".join(chunks)
    assert page.sha256 == hashlib.sha256(b"".join(chunks)).hexdigest()
    small = store.open(parse_seed("http://a.com/small"))
    await small.write(b"tiny")
    assert (tmp_path / await small.commit()).read_bytes() == b"tiny"
    assert small.sha256 == hashlib.sha256(b"tiny").hexdigest()
