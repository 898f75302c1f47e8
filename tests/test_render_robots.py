"""robots.txt and a rendered page's redirects: the browser follows a server's redirect itself
(Playwright cannot stop one), so its target is checked against its host's robots.txt once the
answer is in, as a fetched redirect's target is before it is asked for. A target robots.txt
disallows (or whose robots.txt cannot be read) is not kept."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiohttp import web
from yarl import URL

from crawler.config import Job
from crawler.core.errors import ClusterError, FetchError, Kind
from crawler.engine import Crawl
from crawler.net.page_scope import Navigation, PageScope
from crawler.net.render import Renderer
from crawler.net.robots import Robots
from crawler.scheduling.limiter import LocalHostLimiter
from tests.helpers.ordered import archived
from tests.helpers.output import read_records
from tests.helpers.site import Site

TARGET_PAGE = '<img src="/pic.png"><script src="/s.js"></script><iframe src="/frame"></iframe><a href="/next">n</a>'
RULES = "User-agent: *\nDisallow: /private\n"
WALL = {"cf-mitigated": "challenge"}


def redirecting_site(site: Site, target_host: str, target_path: str) -> str:
    """js.test's start page redirects to ``target_path`` on ``target_host``, whose robots.txt
    disallows /private; the target links and loads resources of its own. The target's URL."""
    target = site.url(target_host, target_path)

    async def moved(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(target)

    async def rules(_: web.Request) -> web.Response:
        return web.Response(text=RULES)

    site.route("js.test", "/", moved)
    site.route(target_host, "/robots.txt", rules)
    site.html(target_host, target_path, TARGET_PAGE + "the target page")
    site.html(target_host, "/next", "next")
    return target


def crawl_of(site: Site, out, **extra: object) -> Crawl:
    return Crawl(
        Job.model_validate(
            {
                "start_urls": [site.url("js.test")],
                "resolve": site.pin("js.test", "docs.test"),
                "allow_domains": ["js.test", "docs.test"],
                "output": str(out),
                "render": ["*"],
                "render_timeout": 30,
                "warc": True,
                "retries": 0,
                **extra,
            }
        )
    )


@pytest.mark.parametrize("target_host", ["js.test", "docs.test"])  # robots.txt read already, or not yet
async def test_a_rendered_redirect_robots_txt_disallows_keeps_nothing_of_the_page(site, tmp_path, target_host):
    """The record is the redirect's ``redirect`` error naming the target; the WARC has the
    redirect; no file keeps the page it led to, none of its resources or frames load and none of
    its links are followed. The target host's robots.txt is read once."""
    await site.start()
    target = redirecting_site(site, target_host, "/private/doc")

    async def walled(_: web.Request) -> web.Response:  # a bot wall too (a blocked_when default): not ours to see
        return web.Response(text=TARGET_PAGE + "the target page", content_type="text/html", headers=WALL)

    site.route(target_host, "/private/doc", walled)
    out = tmp_path / "o"
    await crawl_of(site, out).run()

    (record,) = read_records(out)
    assert (record["status"], record["path"], record["rendered"], record["error"]) == (
        302,
        None,
        True,
        {"kind": "redirect", "message": f"redirect to {target}, disallowed by robots.txt"},
    )
    for path in ("/pic.png", "/s.js", "/frame", "/next"):
        assert site.hits[(target_host, path)] == 0
    assert site.hits[(target_host, "/robots.txt")] == 1
    assert archived(out / "crawl.warc.gz") == [site.url("js.test")]  # the redirect, as a fetch archives it
    assert not any(b"the target page" in f.read_bytes() for f in (out / "pages").rglob("*") if f.is_file())


async def test_a_rendered_redirect_robots_txt_allows_is_the_page(site, tmp_path):
    """A target on a host whose robots.txt was not read yet, which allows it: the page is kept,
    with its links, as before robots.txt was asked."""
    await site.start()
    target = redirecting_site(site, "docs.test", "/public/doc")
    out = tmp_path / "o"
    await crawl_of(site, out).run()

    records = {r["url"]: r for r in read_records(out)}
    first = records[site.url("js.test")]
    assert (first["status"], first["final_url"], first["error"]) == (200, target, None)
    assert "the target page" in (out / first["path"]).read_text()
    assert records[site.url("docs.test", "/next")]["error"] is None
    assert site.hits[("docs.test", "/robots.txt")] == 1


async def test_a_rendered_redirect_whose_robots_txt_cannot_be_read_is_not_kept(site, tmp_path):
    """The target host's robots.txt answers 503: the host counts as disallowed (RFC 9309), so the
    page is not kept and the record says why."""

    async def unavailable(_: web.Request) -> web.Response:
        return web.Response(status=503)

    await site.start()
    target = redirecting_site(site, "docs.test", "/public/doc")
    site.route("docs.test", "/robots.txt", unavailable)
    out = tmp_path / "o"
    await crawl_of(site, out).run()

    (record,) = read_records(out)
    assert (record["status"], record["path"], record["error"]["kind"]) == (302, None, "redirect")
    assert record["error"]["message"].startswith(f"redirect to {target}, robots.txt unavailable (status 503)")
    assert site.hits[("docs.test", "/next")] == 0


async def test_a_script_cannot_take_the_page_where_robots_txt_disallows(site, tmp_path):
    """The page's script sends it to /private, which robots.txt disallows: that navigation is
    never sent, and the page is kept as it was (and archived)."""
    await site.start()
    script = 'stay<script>location.href = "/private/x";</script>'
    site.route(
        "js.test",
        "/",
        lambda _: asyncio.sleep(0, web.Response(text=f"<html><body>{script}</body></html>", content_type="text/html")),
    )
    site.route("js.test", "/robots.txt", lambda _: asyncio.sleep(0, web.Response(text=RULES)))
    site.html("js.test", "/private/x", "away")
    out = tmp_path / "o"
    await crawl_of(site, out, render_wait="networkidle").run()

    assert site.hits[("js.test", "/private/x")] == 0
    (record,) = read_records(out)
    assert (record["status"], record["error"], record["final_url"]) == (200, None, site.url("js.test"))
    assert "stay" in (out / record["path"]).read_text()  # the page as it was, not an error page
    assert archived(out / "crawl.warc.gz") == [site.url("js.test")]


def navigating_site(site: Site, status: int = 200) -> str:
    """js.test's start page (with ``status``) has a script that sends it to docs.test, whose
    robots.txt answers 503. The navigation's target."""
    away = site.url("docs.test", "/page")
    script = f'stay<script>location.href = "{away}";</script>'

    async def start(_: web.Request) -> web.Response:
        return web.Response(text=f"<html><body>{script}</body></html>", content_type="text/html", status=status)

    site.route("js.test", "/", start)
    site.route("docs.test", "/robots.txt", lambda _: asyncio.sleep(0, web.Response(status=503)))
    site.html("docs.test", "/page", "<h1 id=there>away</h1>")
    return away


@pytest.mark.parametrize("waits", ["networkidle", "selector"])
async def test_a_script_navigation_whose_robots_txt_cannot_be_read_keeps_the_page_back(site, tmp_path, waits):
    """The navigation is not sent, and the page is not kept as the stub it was: its record has
    its status and says why, to be tried again; also when the page then waits in vain for a
    selector only the navigation's target has."""
    await site.start()
    away = navigating_site(site)
    out = tmp_path / "o"
    wait = {"render_wait": "networkidle"} if waits == "networkidle" else {"render_selector": "#there"}
    await crawl_of(site, out, **wait, render_timeout=10).run()

    assert site.hits[("docs.test", "/page")] == 0
    (record,) = read_records(out)
    assert (record["status"], record["path"], record["error"]["kind"]) == (200, None, "redirect")
    assert record["error"]["message"].startswith(f"navigation to {away}")


async def test_an_error_page_whose_script_navigation_is_refused_keeps_its_status(site, tmp_path):
    """A 503 page (a challenge, say) whose script's navigation is refused for now: its record is
    that 503, as it would be without the script, not the navigation's refusal."""
    await site.start()
    navigating_site(site, status=503)
    out = tmp_path / "o"
    await crawl_of(site, out, render_wait="networkidle").run()

    (record,) = read_records(out)
    assert (record["status"], record["error"]["kind"]) == (503, "http")


class RobotsSite:
    """What robots.txt fetches meet, for :class:`Navigation` without a browser: an answer held
    until ``release`` is set, or a failure; ``asked`` counts the fetches."""

    def __init__(self, failure: FetchError | None = None, status: int = 200) -> None:
        self.release = asyncio.Event()
        self.failure, self.status = failure, status
        self.asked = 0

    async def get_routed(self, url: URL, limit: int) -> tuple[int, bytes]:
        self.asked += 1
        if self.failure is not None:
            raise self.failure
        await self.release.wait()
        return self.status, RULES.encode()


def scope_over(fetcher: RobotsSite) -> PageScope:
    robots = Robots(fetcher, LocalHostLimiter(2), "ua", retries=0, backoff=0.1, warn=lambda _: None)  # type: ignore[arg-type]
    return PageScope(None, robots)


def redirected(scope: PageScope, url: str) -> Navigation:
    """A page's navigation whose main-frame answer, as Playwright gives it, redirected to ``url``."""
    nav = Navigation(scope)
    nav.answers.append(SimpleNamespace(request=SimpleNamespace(redirected_to=SimpleNamespace(url=url))))  # type: ignore[arg-type]
    return nav


async def test_a_redirect_whose_robots_txt_is_not_read_in_time_is_refused_for_the_whole_page():
    """robots.txt still loading when the page's time (or a subresource's) is up: the redirect is
    refused with a retryable error, and stays refused for that page even once robots.txt is read
    (its subresources were not loaded: it must not be kept). The page's next try has the rules'."""
    site = RobotsSite()
    scope = scope_over(site)
    private, public = "http://docs.test/private/a", "http://docs.test/public/a"
    page = redirected(scope, public)
    _, target, error = await page.redirect_out(within=0.01) or (None, None, None)
    assert (target, error.kind, error.retryable) == (public, Kind.REDIRECT, True)
    assert error.message == f"redirect to {public} before its robots.txt was read"
    site.release.set()
    assert await page.redirect_out(within=None) == (page.answers[0], public, error)
    assert await redirected(scope, public).redirect_out(within=None) is None  # the next try
    _, _, error = await redirected(scope, private).redirect_out() or (None, None, None)
    assert (error.kind, error.retryable, error.message) == (
        Kind.REDIRECT,
        False,
        f"redirect to {private}, disallowed by robots.txt",
    )
    assert site.asked == 1


@pytest.mark.parametrize(
    ("failure", "kind"),
    [(FetchError(Kind.LOCAL, "too many open files"), Kind.LOCAL), (FetchError(Kind.PROXY, "proxy down"), Kind.PROXY)],
)
async def test_our_own_failure_to_read_a_redirects_robots_txt_is_ours_not_the_sites(failure, kind):
    """This machine's failure (the page waits, as any page whose robots.txt meets it) or our
    proxy's (the record says so): not the redirect's, and retried. Asked once for the page,
    however many of its requests ask."""
    fetcher = RobotsSite(failure)
    page = redirected(scope_over(fetcher), "http://docs.test/a")
    for _ in range(3):
        _, _, error = await page.redirect_out() or (None, None, None)
        assert (error.kind, error.retryable) == (kind, True)
    assert fetcher.asked == 1


async def test_the_204_that_keeps_a_page_in_place_is_not_one_of_its_answers():
    """A script's navigation refused is answered by us (204, so the page stays): that answer is
    not the site's, so it is not the page's last answer (a timed-out error page keeps its status)."""
    fetcher = RobotsSite()
    fetcher.release.set()
    nav = Navigation(scope_over(fetcher))
    main = object()

    class Navigating:  # a main-frame navigation request, as Playwright gives it (hashable)
        def __init__(self, url: str) -> None:
            self.url, self.frame = url, main

        def is_navigation_request(self) -> bool:
            return True

    def navigation(url: str) -> tuple[Navigating, SimpleNamespace]:
        request = Navigating(url)
        return request, SimpleNamespace(request=request, frame=main)

    refused, ours = navigation("http://docs.test/private/x")
    allowed, theirs = navigation("http://docs.test/public/x")
    target = URL("http://docs.test/")
    assert await nav.navigates_out(refused, main, target, within=None)  # type: ignore[arg-type]
    assert not await nav.navigates_out(allowed, main, target, within=None)  # type: ignore[arg-type]
    nav.note(main, ours)  # type: ignore[arg-type]
    nav.note(main, theirs)  # type: ignore[arg-type]
    assert nav.answers == [theirs] and nav.held is None  # (disallowed: final, nothing to try again)


async def test_a_request_whose_check_meets_a_redis_outage_is_not_loaded_and_stops_the_page():
    """A shared job's state out of reach (ClusterError: its robots.txt, its host slots) while a
    page's request is checked: the request is refused, not left hanging with an exception nobody
    reads, and the page's next check raises it (the crawl stops; the URL is not recorded)."""
    aborted: list[str] = []

    class Route:
        request = SimpleNamespace(resource_type="document")

        async def abort(self, code: str = "failed") -> None:
            aborted.append(code)

    class Outage(Navigation):
        async def navigates_out(self, *_: object) -> bool:
            raise ClusterError("Redis at redis://127.0.0.1:1 unreachable")

    nav = Outage(PageScope(None))
    renderer = SimpleNamespace(_settings=SimpleNamespace(block=frozenset(), timeout=30.0))
    await Renderer._route(renderer, Route(), None, URL("http://js.test/"), None, nav)  # type: ignore[arg-type]
    assert aborted == ["blockedbyclient"]
    with pytest.raises(ClusterError, match="unreachable"):
        await nav.redirect_out()
