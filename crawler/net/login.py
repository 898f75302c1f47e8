"""Logging in like a user (``login:``): each identity logs in before its first request to a URL
the login covers, and again when a covered page looks logged out (its session expired).

The form flow is a browser's: GET the login page, take its form's action and every input it
would send (hidden ones too: CSRF tokens), fill in the job's fields, POST it, follow the redirects
it answers with, all through the identity's proxy, transport and cookie jar. A ``login`` hook does
the same in code (:class:`LoginSession`). A page looks logged out when the covered URL redirects
to the login page, or its HTML fails ``check`` (a CSS selector, or a text it holds when logged in).

The field values come from environment variables (:mod:`crawler.config` refuses a literal
password); they go nowhere but the login's POST: its exchanges are never archived
(:meth:`Fetcher.send <crawler.net.fetch.Fetcher.send>`), and the crawl's messages are redacted of
them (``Router(secrets=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from multidict import CIMultiDict
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from crawler.core.blocked import BlockRules
from crawler.core.errors import FetchError, InvalidURL, Kind
from crawler.core.response import Response, is_page
from crawler.core.urls import join, url_pattern
from crawler.core.usage import IdentityUse
from crawler.hooks import LoginHook, failure
from crawler.net.fetch import Fetcher
from crawler.net.wire import Form, Small

if TYPE_CHECKING:
    from crawler.net.identities import Identity

MAX_FAILURES = 3  # logins failed in a row before the crawl stops trying (a wrong password locks accounts)
SKIPPED = frozenset({"submit", "button", "image", "reset", "file"})  # inputs a form does not send as such
PASSWORD_FORM = "form:has(input[type=password])"


@dataclass(frozen=True, slots=True)
class LoginSettings:
    covers: str  # a URL glob, or re: and a regex
    url: str | None = None  # the login page (the form flow)
    form: str | None = None  # CSS selector of the form (None: the first with a password input)
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)  # name → value, from the environment
    check_selector: str | None = None
    check_text: str | None = None
    limit: int = 5_000_000  # bytes of the login's pages read (max_parse_bytes)


class LoginFailed(Exception):
    """The login did not work; the message says why (never with a field's value)."""


class Login:
    """Logs identities in (once at a time each), and tells logged-in pages from logged-out ones.
    ``use`` counts the logins that worked, the re-logins among them, and the failed ones."""

    def __init__(
        self,
        settings: LoginSettings,
        fetcher: Fetcher,
        hook: LoginHook | None = None,
        blocks: BlockRules | None = None,
        use: IdentityUse | None = None,
    ) -> None:
        self.settings = settings
        self.use = use or IdentityUse(login=True)
        self._fetcher = fetcher
        self._hook = hook
        self._blocks = blocks or BlockRules()
        self._covers = url_pattern(settings.covers)
        self._text = settings.check_text.encode() if settings.check_text is not None else None
        self._login_url = URL(settings.url, encoded=True) if settings.url is not None else None
        self._failures = 0
        self._why = ""

    def covers(self, url: URL) -> bool:
        """Whether ``url`` is for members: ``covers`` matches, and it is not the login page (which
        looks logged out by design)."""
        return bool(self._covers(str(url))) and not self._is_login(url)

    async def ready(self, identity: Identity) -> int:
        """Log ``identity`` in unless it is (one login at a time per identity: requests that find
        it logged out together wait for the same login); the login in force (its epoch)."""
        if not identity.logged_in:
            async with identity.lock:
                if not identity.logged_in:
                    await self._log_in(identity)
        return identity.epoch

    def holds(self, url: URL, response: Response) -> bool:
        """Whether the answer to a covered ``url`` shows the login in force: not a redirect to
        the login page, not a page that fails the check (other answers cannot tell: they pass)."""
        if response.location is not None:
            return not self._to_login(url, response.location)
        if response.body is None or response.unchanged or not 200 <= response.status < 300:
            return True
        return self.logged_in(response.body)

    def logged_in(self, body: bytes) -> bool:
        """The check on an HTML page."""
        if self._text is not None:
            return self._text in body
        assert self.settings.check_selector is not None
        return LexborHTMLParser(body).css_first(self.settings.check_selector) is not None

    def challenge(self, response: Response) -> str | None:
        """Why a covered page that failed the check is a challenge page (``blocked_when``) rather
        than a logged-out one, or None: a bot wall is no reason to log in again."""
        body = response.body or b""
        tree = LexborHTMLParser(body)
        title = tree.css_first("title")
        headers = response.headers if response.headers is not None else CIMultiDict[str]()
        has = lambda selector: tree.css_first(selector) is not None  # noqa: E731
        return self._blocks.page(response.status, headers, body, title.text(strip=True) if title else None, has)

    def expired(self, identity: Identity, epoch: int) -> None:
        """A page sent under login ``epoch`` looked logged out: the identity logs in again before
        its next covered request, unless it already did since."""
        if identity.epoch == epoch:
            identity.logged_in = False

    async def _log_in(self, identity: Identity) -> None:
        """One login (failures of the site's network are raised as fetch errors, and retried)."""
        if self._failures >= MAX_FAILURES:
            raise FetchError(Kind.LOGIN, f"login failed {self._failures} times in a row ({self._why}); not tried again")
        try:
            if self._hook is not None:
                await self._run_hook(identity)
            else:
                await self._submit(identity)
        except LoginFailed as e:
            self._failures += 1
            self.use.login_failures += 1
            self._why = self._redact(str(e))  # (a hook's exception may quote a value)
            raise FetchError(Kind.LOGIN, f"login failed: {self._why}", retryable=True) from None
        self._failures = 0
        self.use.logins += 1
        self.use.relogins += identity.epoch > 0  # (its first login is epoch 1)
        identity.logged_in = True
        identity.epoch += 1

    async def _run_hook(self, identity: Identity) -> None:
        assert self._hook is not None
        try:
            await self._hook(LoginSession(self, identity))
        except FetchError:
            raise
        except Exception as e:  # user code
            raise LoginFailed(failure(self._hook, e)) from None

    async def _submit(self, identity: Identity) -> None:
        """The form flow: the login page, its form filled in, posted, the page it leads to."""
        assert self._login_url is not None
        page = await self.send(identity, self._login_url)
        _transient(page, "the login page")
        if not 200 <= page.status < 300:
            raise LoginFailed(f"the login page {self.settings.url} answered {page.status}")
        form = LexborHTMLParser(page.body).css_first(self.settings.form or PASSWORD_FORM)
        if form is None:
            what = self.settings.form or "a form with a password input"
            raise LoginFailed(f"no {what} on the login page {page.url}")
        if (form.attributes.get("method") or "get").lower() != "post":
            raise LoginFailed("the login form is sent with GET: its fields would go into the URL")
        try:
            target = join(page.url, form.attributes.get("action") or "")
        except InvalidURL as e:
            raise LoginFailed(f"the login form's action: {e}") from None
        if not same_origin(target, page.url):  # the credentials go nowhere but the login page's site
            raise LoginFailed(f"the login form posts to {target.scheme}://{target.host}, not the login page's origin")
        body = urlencode(fill(form, self.settings.fields)).encode()
        answer = await self.send(identity, target, Form(body, page.url))
        _transient(answer, "the login form")
        if answer.status >= 400:
            raise LoginFailed(f"the login form was refused ({answer.status})")
        if answer.body and is_page(answer.content_type) and not self.logged_in(answer.body):
            raise LoginFailed("the page after logging in looks logged out (wrong credentials?)")

    def _redact(self, text: str) -> str:
        for value in sorted(self.settings.fields.values(), key=len, reverse=True):
            if len(value) >= 3:
                text = text.replace(value, "***")
        return text

    async def send(self, identity: Identity, url: URL, form: Form | None = None) -> Small:
        return await self._fetcher.send(url, self.settings.limit, identity.proxy, identity, form)

    def _to_login(self, url: URL, location: str) -> bool:
        try:
            return self._is_login(join(url, location))
        except InvalidURL:
            return False

    def _is_login(self, url: URL) -> bool:
        """``url`` is the login page (whatever its query: ``?next=…``)."""
        login = self._login_url
        return login is not None and (url.host, url.port, url.path) == (login.host, login.port, login.path)


def same_origin(a: URL, b: URL) -> bool:
    """Same scheme, host and port: where a login form's fields may be sent."""
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _transient(answer: Small, what: str) -> None:
    """A 429 or 5xx is the site's moment, not our credentials: a retryable fetch error (which
    does not count towards the failures that stop logging in)."""
    if answer.status == 429 or answer.status >= 500:
        raise FetchError(Kind.LOGIN, f"{what} answered {answer.status}", retryable=True)


def fill(form: LexborNode, fields: Mapping[str, str]) -> list[tuple[str, str]]:
    """What a browser sends for ``form`` when its first named submit button is clicked, with
    ``fields`` in place of (or after) the inputs of the same name."""
    sent: list[tuple[str, str]] = []
    button = False
    for node in form.css("input, button"):
        attrs = node.attributes
        name, kind = attrs.get("name"), (attrs.get("type") or "").lower()
        if not name or "disabled" in attrs:
            continue
        if node.tag == "button" or kind in ("submit", "image"):
            if not button and kind in ("", "submit"):  # the button that is clicked
                sent.append((name, attrs.get("value") or ""))
                button = True
        elif kind not in SKIPPED and (kind not in ("checkbox", "radio") or "checked" in attrs):
            sent.append((name, attrs.get("value") or ("on" if kind in ("checkbox", "radio") else "")))
    named = {name for name, _ in sent}
    return [(name, fields.get(name, value)) for name, value in sent] + [
        (name, value) for name, value in fields.items() if name not in named
    ]


@dataclass(frozen=True, slots=True)
class LoginPage:
    """An answer a ``login`` hook reads."""

    status: int
    url: str  # where the redirects ended
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class LoginSession:
    """What a ``login`` hook gets: requests as the identity that logs in (its proxy, cookies and
    transport), the values of ``login.fields`` (from the environment), and the identity's headers,
    which the hook may add to (an ``Authorization`` token). It returns once logged in, or raises."""

    def __init__(self, login: Login, identity: Identity) -> None:
        self._login = login
        self._identity = identity
        self.values: Mapping[str, str] = login.settings.fields
        self.url: str | None = login.settings.url
        self.headers: dict[str, str] = identity.headers

    async def get(self, url: str) -> LoginPage:
        return self._page(await self._login.send(self._identity, URL(url)))

    async def post(self, url: str, form: Mapping[str, str], page: str | None = None) -> LoginPage:
        """POST ``form`` (URL-encoded) as if filled in on ``page`` (its Referer; default ``url``)."""
        body = urlencode(list(form.items())).encode()
        return self._page(await self._login.send(self._identity, URL(url), Form(body, URL(page or url))))

    def logged_in(self, page: LoginPage) -> bool:
        """The job's ``check`` on a page."""
        return self._login.logged_in(page.body)

    @staticmethod
    def _page(small: Small) -> LoginPage:
        return LoginPage(small.status, str(small.url), small.body)
