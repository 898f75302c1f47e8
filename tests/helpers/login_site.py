"""A members' site on a :class:`~tests.helpers.site.Site` host, as the login tests need it.

``/login`` serves a form whose hidden CSRF token is bound to a pre-login cookie (a POST without
that cookie and token is refused with 403); the right user and password get a session cookie and a
redirect to ``/welcome``. A session expires after ``views`` member pages (a server-side count).
``/members/pN`` shows the member page, with "Sign out", to a live session, and the login form to
anyone else (status 200, as many sites do). ``/visit`` hands every request without a ``vid``
cookie a new visitor id, and notes which id each request carried.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from dataclasses import dataclass, field

from aiohttp import web

from tests.helpers.site import Site

FORM = (
    '<form id="login" method="post" action="/login"><input type="hidden" name="csrf" value="{token}">'
    '<input name="username"><input type="password" name="password"><button name="go" value="1">Log in</button></form>'
)


def page(title: str, body: str) -> web.Response:
    return web.Response(
        text=f"<html><head><title>{title}</title></head><body>{body}</body></html>", content_type="text/html"
    )


@dataclass
class LoginSite:
    site: Site
    host: str
    user: str
    password: str
    views: int  # member pages a session serves
    pages: int  # member pages: /members/p0 … links on to the next ones
    logins: int = 0
    posts: int = 0  # login attempts
    refused: int = 0  # POSTs without the right token
    served: list[tuple[str, bool]] = field(default_factory=list)  # (member page, as logged in)
    _sessions: dict[str, int] = field(default_factory=dict)  # session → member pages it may still see
    _tokens: dict[str, str] = field(default_factory=dict)  # pre-login cookie → its CSRF token

    def __post_init__(self) -> None:
        self.site.route(self.host, "/login", self._login)
        self.site.route(self.host, "/welcome", self._welcome)
        self.site.route(self.host, "*", self._member)

    def url(self, path: str) -> str:
        return self.site.url(self.host, path)

    def _form(self, request: web.Request, response: web.Response | None = None) -> web.Response:
        pre = request.cookies.get("pre") or secrets.token_hex(8)
        token = self._tokens[pre] = secrets.token_hex(8)
        response = response or page("Log in", FORM.format(token=token))
        response.set_cookie("pre", pre)
        return response

    async def _login(self, request: web.Request) -> web.Response:
        if request.method == "GET":
            return self._form(request)
        self.posts += 1
        data = await request.post()
        pre = request.cookies.get("pre", "")
        if not pre or self._tokens.pop(pre, None) != data.get("csrf"):
            self.refused += 1
            raise web.HTTPForbidden(text="bad CSRF token")
        if (data.get("username"), data.get("password")) != (self.user, self.password) or data.get("go") != "1":
            return self._form(request)
        self.logins += 1
        session = secrets.token_hex(8)
        self._sessions[session] = self.views
        response = web.Response(status=302, headers={"Location": "/welcome"})
        response.set_cookie("sid", session, httponly=True)
        return response

    def _live(self, request: web.Request) -> str | None:
        session = request.cookies.get("sid")
        return session if session is not None and self._sessions.get(session, 0) > 0 else None

    async def _welcome(self, request: web.Request) -> web.Response:
        if self._live(request) is None:
            return self._form(request)
        return page("Welcome", '<a class="logout" href="/logout">Sign out</a>')

    async def _member(self, request: web.Request) -> web.Response:
        if not request.path.startswith("/members/p"):
            raise web.HTTPNotFound()
        if request.method != "GET":  # (a curl handle left in POST after the login would show here)
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        n = int(request.path.removeprefix("/members/p"))
        session = self._live(request)
        self.served.append((request.path, session is not None))
        if session is None:
            return self._form(request)
        self._sessions[session] -= 1
        links = "".join(f'<a href="/members/p{k}">{k}</a>' for k in (n + 1, n + 2) if k < self.pages)
        return page(
            f"Member {n}", f'{links}<p class="secret">members only {n}</p><a class="logout" href="/logout">Sign out</a>'
        )


@dataclass
class Visitors:
    """``/visit/pN`` on ``host``: a new ``vid`` cookie for each request without one; ``seen`` is the
    visitor id each request carried (None: none), ``given`` the ids handed out. Pages from
    ``hold_from`` on answer only once ``gate`` is set (a crawl to kill stands still there). The
    visitor ``challenged`` is answered a 200 challenge page (with an ``X-Challenge`` header or a
    "Just a check" title: ``challenge``) instead."""

    site: Site
    host: str
    pages: int
    hold_from: int | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    challenged: str | None = None
    challenge: str = "header"
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    given: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.site.route(self.host, "*", self._visit)

    async def _visit(self, request: web.Request) -> web.Response:
        n = int(request.path.removeprefix("/visit/p"))
        if self.hold_from is not None and n >= self.hold_from:
            await self.gate.wait()
        vid = request.cookies.get("vid")
        self.seen.append((request.path, vid))
        if vid is not None and vid == self.challenged:
            if self.challenge == "header":
                return web.Response(text="<p>wait</p>", content_type="text/html", headers={"X-Challenge": "1"})
            return page("Just a check", "<p>wait</p>")
        links = "".join(f'<a href="/visit/p{k}">{k}</a>' for k in (n + 1, n + 2) if k < self.pages)
        response = page(f"Visit {n}", links)
        if vid is None:
            self.given.append(str(next(self._ids)))
            response.set_cookie("vid", self.given[-1])
        return response
