"""Logging in like a user (login:): a members' site with a CSRF token and sessions that expire after
a few pages (tests/helpers/login_site.py). Every member page is crawled logged in, on both
transports; expiry is noticed and healed; the password reaches no output file; a login hook; a
wrong password; the config errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from aiohttp import web
from selectolax.lexbor import LexborHTMLParser

from crawler.commands.report import build
from crawler.observe.summary import summary
from tests.helpers.cli import run_cli
from tests.helpers.leaks import read_output
from tests.helpers.login_site import LoginSite
from tests.helpers.output import last_stats, table

PASSWORD = "Pw-7f3a9c1e-hunter2"


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAWL_USER", "alice")
    monkeypatch.setenv("CRAWL_PASS", PASSWORD)


def login(members: LoginSite, **more: object) -> dict[str, object]:
    return {
        "url": members.url("/login"),
        "fields": {"username": "env:CRAWL_USER", "password": "env:CRAWL_PASS"},
        "check": {"text": "Sign out"},
        "covers": "*/members/*",
        **more,
    }


def everything(out: Path) -> bytes:
    """Every file the crawl left, as a reader sees it (the WARC decompressed), state.sqlite too."""
    return b"".join(read_output(f) for f in sorted(out.rglob("*")) if f.is_file())


@pytest.mark.parametrize("transport", ["aiohttp", "curl"])
async def test_every_member_page_is_crawled_logged_in_and_the_password_stays_out(site, crawl, credentials, transport):
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=3, pages=12)
    r = await crawl(
        start_urls=[members.url("/members/p0")],
        resolve=site.pin("m.test"),
        identities=2,
        login=login(members),
        exclude=["/logout"],
        extract=[{"name": "member", "match": "*/members/*", "fields": {"secret": ".secret"}}],
        transport=transport,
        per_host=1,
        retries=3,
        warc=True,
    )
    assert len(r.records) == 12
    for rec in r.records:
        n = rec["url"].rsplit("/p", 1)[1]
        assert (rec["status"], rec["error"], rec["title"]) == (200, None, f"Member {n}"), rec
        assert rec["identity"] in (1, 2) and rec["transport"] == transport
    items = sorted(line["secret"] for line in map(json.loads, (r.out / "items.jsonl").open()))
    assert items == sorted(f"members only {n}" for n in range(12))
    assert members.refused == 0  # the CSRF token was taken from the form
    assert members.logins > 2  # one per identity, and more: expiry was noticed and healed
    assert any(not logged_in for _, logged_in in members.served)  # (the server did expire sessions)
    assert {path for path, logged_in in members.served if logged_in} == {f"/members/p{n}" for n in range(12)}
    again = members.logins - 2  # after each identity's first
    assert r.summary_lines("identities:", "logins:") == [
        "identities: 2 made, 0 retired",
        f"logins: {members.logins} ({again} after a session expired), 0 failed",
    ]
    assert last_stats(r.out)["logins"] == {"ok": members.logins, "failed": 0, "relogins": again}
    metrics = r.metrics()
    assert metrics["crawler_logins_total[('outcome', 'ok')]"] == members.logins
    assert metrics["crawler_logins_total[('outcome', 'failed')]"] == 0
    assert metrics["crawler_relogins_total[]"] == again
    written = everything(r.out) + "\n".join(r.stats.warnings).encode() + summary(r.stats, str(r.out)).encode()
    assert b"members only 0" in written and b"WARC/1.1" in written  # the pages, the archive were read
    assert PASSWORD.encode() not in written and b"password=" not in written


async def test_identities_found_logged_out_together_log_in_once(site, crawl, credentials):
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=4, pages=20)
    r = await crawl(
        start_urls=[members.url(f"/members/p{n}") for n in range(0, 20, 2)],
        resolve=site.pin("m.test"),
        login=login(members),  # one identity
        per_host=4,
        concurrency=8,
        retries=10,
        exclude=["/logout"],
    )
    assert all(rec["status"] == 200 and rec["error"] is None for rec in r.records) and len(r.records) == 20
    assert members.logins == math.ceil(20 / 4)  # a login per session used up, however many saw it end
    assert r.summary_lines("logins:") == ["logins: 5 (4 after a session expired), 0 failed"]


async def test_a_login_hook_logs_in_in_code_and_its_failures_are_login_errors(
    site, crawl, credentials, tmp_path, monkeypatch
):
    (tmp_path / "my_login.py").write_text(
        "import re\n"
        "async def log_in(session):\n"
        "    page = await session.get(session.url)\n"
        '    token = re.search(r\'name="csrf" value="(\\w+)"\', page.text)[1]\n'
        "    form = {'csrf': token, 'go': '1', **session.values}\n"
        "    answer = await session.post(session.url, form, page=page.url)\n"
        "    if not session.logged_in(answer):\n"
        "        raise RuntimeError('still logged out')\n"
        "async def broken(session):\n"
        "    raise RuntimeError('no luck with ' + session.values['password'])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=5)
    start = {"start_urls": [members.url("/members/p0")], "resolve": site.pin("m.test"), "exclude": ["/logout"]}
    r = await crawl(**start, login=login(members, hook="my_login:log_in"), output=tmp_path / "hook")
    assert sorted(rec["title"] for rec in r.records) == [f"Member {n}" for n in range(5)] and members.logins == 1

    r = await crawl(**start, login=login(members, hook="my_login:broken"), output=tmp_path / "broken")
    (record,) = r.records
    assert (
        record["error"]["kind"] == "login"
        and "my_login:broken: RuntimeError: no luck with ***" in record["error"]["message"]
    )
    assert PASSWORD.encode() not in everything(r.out)


async def test_a_wrong_password_is_tried_three_times_then_never_again(site, crawl, credentials, monkeypatch):
    monkeypatch.setenv("CRAWL_PASS", "not-the-password")
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=5)
    r = await crawl(
        start_urls=[members.url(f"/members/p{n}") for n in range(5)],
        resolve=site.pin("m.test"),
        login=login(members),
        ignore_robots=True,
        per_host=1,
    )
    assert len(r.records) == 5 and members.posts == 3 and members.logins == 0
    assert {rec["error"]["kind"] for rec in r.records} == {"login"}
    assert any("looks logged out (wrong credentials?)" in rec["error"]["message"] for rec in r.records)
    assert any("not tried again" in rec["error"]["message"] for rec in r.records)
    assert r.summary_lines("logins:") == ["logins: 0 (0 after a session expired), 3 failed"]
    assert last_stats(r.out)["logins"] == {"ok": 0, "failed": 3, "relogins": 0}
    metrics = r.metrics()
    assert metrics["crawler_logins_total[('outcome', 'failed')]"] == 3
    assert metrics["crawler_logins_total[('outcome', 'ok')]"] == 0
    shown = table(LexborHTMLParser(build(r.out).read_text()), "Identities and logins")
    assert shown == [
        ["identities made", "1"],
        ["logins", "0"],
        ["of those, after a session expired", "0"],
        ["failed logins", "3"],
    ]


@pytest.mark.parametrize(
    "section, env, says",
    [
        (
            '{url: "http://a.test/login", fields: {password: hunter22}, check: {text: out}, covers: "*"}',
            {},
            "password: give env:VARIABLE",
        ),
        (
            '{url: "http://a.test/login", fields: {pass: env:NOT_SET_28}, check: {text: out}, covers: "*"}',
            {},
            "'NOT_SET_28' is not set",
        ),
        ('{url: "http://a.test/login", check: {selector: "a[", text: x}, covers: "*"}', {}, "bad CSS selector"),
        (
            '{url: "http://a.test/login", check: {selector: "a.x", text: x}, covers: "*"}',
            {},
            "exactly one of selector: or text:",
        ),
        ('{fields: {user: env:U28}, check: {text: x}, covers: "*"}', {"U28": "alice"}, "give url:"),
    ],
)
async def test_login_config_errors_are_one_line_and_exit_2(tmp_path, monkeypatch, section, env, says):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    job = tmp_path / "job.yaml"
    job.write_text(f"start_urls: [http://a.test/]\noutput: {tmp_path / 'out'}\nlogin: {section}\n")
    code, out, err = await run_cli("run", str(job))
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err, err
    assert "line 3" in err and "login" in err and "hunter22" not in err
    assert not (tmp_path / "out").exists()


async def test_identities_flag_and_its_errors(tmp_path):
    code, _, err = await run_cli("crawl", "http://a.test/", "--identities", "0", "-o", str(tmp_path / "o"))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--identities" in err, err
    job = tmp_path / "job.yaml"
    job.write_text("start_urls: [http://a.test/]\nidentities: {pool: 2, impersonate: [chrome]}\n")
    code, _, err = await run_cli("run", str(job))
    assert code == 2 and "impersonate needs transport: curl" in err, err
    job.write_text("start_urls: [http://a.test/]\ntransport: curl\nidentities: {pool: 2, impersonate: [netscape4]}\n")
    code, _, err = await run_cli("run", str(job))
    assert code == 2 and "line 3: identities.impersonate.0: curl does not know the browser 'netscape4'" in err, err


async def test_the_login_page_itself_is_crawled_as_a_page_under_a_covers_everything_login(site, crawl, credentials):
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=2)
    r = await crawl(
        start_urls=[members.url("/login"), members.url("/members/p0")],
        resolve=site.pin("m.test"),
        login=login(members, covers="*"),
        exclude=["/logout"],
        ignore_robots=True,
    )
    titles = {rec["url"].rsplit("/", 1)[1]: (rec["title"], rec["error"]) for rec in r.records}
    assert titles == {"login": ("Log in", None), "p0": ("Member 0", None), "p1": ("Member 1", None)}
    assert members.logins == 1


async def test_the_python_api_takes_a_login_hook_as_a_function(site, credentials, tmp_path):
    import asyncio

    import crawler

    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=3)
    calls = []

    async def log_in(session) -> None:
        calls.append(sorted(session.values))
        page = await session.get(session.url)
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        await session.post(session.url, {"csrf": token, "go": "1", **session.values}, page=page.url)

    job = {
        "start_urls": [members.url("/members/p0")],
        "resolve": site.pin("m.test"),
        "output": str(tmp_path / "o"),
        "exclude": ["/logout"],
        "quiet": True,
        "login": login(members),
    }
    stats = await asyncio.to_thread(crawler.crawl, job, login=log_in)  # its own event loop, in a thread
    assert stats.pages == 3 and members.logins == 1 and calls == [["password", "username"]]


@pytest.mark.parametrize("how", ["action", "307"])
async def test_the_credentials_go_only_to_the_login_pages_origin(site, crawl, credentials, how):
    """A form whose action, or a 307 answer to the POST, points at another site: the fields are
    not sent there (the login fails, or goes on as a GET without them)."""
    received: list[str] = []
    action = f"http://evil.test:{site.port}/steal" if how == "action" else "/post"
    site.html(
        "m.test",
        "/login",
        f'<form method="post" action="{action}"><input name="csrf" type="hidden" value="t">'
        '<input name="username"><input name="password" type="password"></form>',
    )

    async def onwards(_: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": f"http://evil.test:{site.port}/steal"})

    async def steal(request: web.Request) -> web.Response:
        received.append(await request.text())
        return web.Response(text="<p>Sign out</p>", content_type="text/html")

    site.route("m.test", "/post", onwards)
    site.route("evil.test", "/steal", steal)
    site.html("m.test", "/members/a", "<p>Sign out</p>", title="member")
    fields = {"username": "env:CRAWL_USER", "password": "env:CRAWL_PASS"}
    r = await crawl(
        start_urls=[site.url("m.test", "/members/a")],
        resolve=site.pin("m.test", "evil.test"),
        login={
            "url": site.url("m.test", "/login"),
            "fields": fields,
            "check": {"text": "Sign out"},
            "covers": "*/members/*",
        },
        ignore_robots=True,
        retries=0,
    )
    assert not any(PASSWORD in text or "alice" in text for text in received), received
    if how == "action":
        (record,) = r.records
        assert record["error"]["kind"] == "login" and "not the login page's origin" in record["error"]["message"]


async def test_a_busy_login_page_is_retried_not_counted_as_a_failed_login(site, crawl, credentials):
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=4)
    real, busy = site.routes[("m.test", "/login")], [3]

    async def flaky(request: web.Request) -> web.StreamResponse:
        if request.method == "GET" and busy[0] > 0:
            busy[0] -= 1
            return web.Response(status=503, text="busy")
        return await real(request)

    site.route("m.test", "/login", flaky)
    r = await crawl(
        start_urls=[members.url(f"/members/p{n}") for n in range(4)],
        resolve=site.pin("m.test"),
        login=login(members),
        exclude=["/logout"],
        ignore_robots=True,
        per_host=1,
        retries=5,
    )
    assert busy == [0] and members.logins >= 1
    assert all(rec["error"] is None and rec["status"] == 200 for rec in r.records), [
        (x["url"], x["status"], x["error"]) for x in r.records
    ]


async def test_a_challenge_page_on_a_covered_url_is_blocked_not_logged_out(site, crawl, credentials):
    members = LoginSite(site, "m.test", "alice", PASSWORD, views=100, pages=1)
    site.html("m.test", "/members/wall", "<p>checking your browser</p>", title="Just a moment...")
    r = await crawl(
        start_urls=[members.url("/members/wall")],
        resolve=site.pin("m.test"),
        identities=2,
        login=login(members),
        ignore_robots=True,
        retries=1,
        adaptive=False,  # each challenge would double the host's delay: 25 s of waiting by the twelfth try
    )
    (record,) = r.records
    assert record["error"]["kind"] == "blocked"
    # each attempt met the wall as a new identity (the blocked one retired), logged in once: never
    # an identity logging in again because the wall looked like a logged-out page
    assert r.stats.blocked >= 2 and members.logins == r.stats.blocked
