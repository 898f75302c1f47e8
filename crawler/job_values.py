"""The value types of the job schema (:mod:`crawler.config`): durations, folder names, URL
patterns, regexes, HTTP statuses, proxy URLs, header values, browser targets, timeouts, content
formats, chunk sizes, the items of ``proxy_rules``, ``transport_rules``, ``recrawl_rules`` and
``blocked_when``, and the ``identities`` and ``login`` sections."""

from __future__ import annotations

import ipaddress
import os
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from crawler.core.blocked import BlockRule
from crawler.core.errors import ConfigError, InvalidURL
from crawler.core.outgoing import breaks_header
from crawler.core.proxy_url import parse_proxy
from crawler.core.urls import parse_seed
from crawler.net.transports import browser, curl_missing
from crawler.parsing.rules import Strict, checked_css, checked_pattern

DAY = 86_400.0  # the longest wait any setting may ask for (a longer one would hang the crawl)
RESOURCE_TYPES = frozenset(
    {
        "document",
        "stylesheet",
        "image",
        "media",
        "font",
        "script",
        "texttrack",
        "xhr",
        "fetch",
        "eventsource",
        "websocket",
        "manifest",
        "other",
    }
)  # the browser's


def url_match(pattern: str) -> str:
    """A URL glob, or a regex after ``re:`` that compiles (``match:`` of rules, ``render:``)."""
    return checked_pattern(pattern, glob_ok=True) or pattern


UrlMatch = Annotated[str, AfterValidator(url_match)]


def regex(pattern: str) -> str:
    """A regex that compiles (``proxy_ban_body``)."""
    return checked_pattern(pattern, glob_ok=False) or pattern


Regex = Annotated[str, AfterValidator(regex)]


def http_status(code: int) -> int:
    """An HTTP status code, 100-599."""
    if not 100 <= code <= 599:
        raise ValueError(f"{code} is not an HTTP status (100-599)")
    return code


HttpStatus = Annotated[int, AfterValidator(http_status)]


def statuses(value: Any) -> Any:
    """One HTTP status or a list of them (``403`` or ``[403, 503]``)."""
    return [value] if isinstance(value, int) else value


Statuses = Annotated[list[HttpStatus], BeforeValidator(statuses)]


def proxy_url(url: str) -> str:
    """A proxy URL as the router takes it (scheme, host and port checked: :func:`parse_proxy`)."""
    return str(parse_proxy(url))


ProxyUrl = Annotated[str, AfterValidator(proxy_url)]


def header_value(text: str) -> str:
    """A value sent in a header (``user_agent``, an identity's): one that would split the request
    (CR, LF or NUL) is refused."""
    if breaks_header(text):
        raise ValueError("contains CR, LF or NUL")
    return text


HeaderValue = Annotated[str, AfterValidator(header_value)]


def nameserver(text: str) -> str:
    """An IP address, optionally with :PORT (``[v6]:PORT``): a server of ``dns_servers``."""
    host, port = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{text!r}: a nameserver is an IP address, optionally with :PORT") from None
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{text!r}: the port must be 1-65535")
    return text


Nameserver = Annotated[str, AfterValidator(nameserver)]


class Timeouts(Strict):
    """Seconds. ``connect`` covers getting a connection, ``read`` each socket read, ``total`` all;
    ``dns`` is one try at a nameserver of ``dns_servers`` (two tries per lookup)."""

    connect: float = Field(10.0, gt=0, le=DAY)
    read: float = Field(30.0, gt=0, le=DAY)
    total: float = Field(60.0, gt=0, le=DAY)
    dns: float = Field(2.0, gt=0, le=DAY)


def impersonation(target: str) -> str:
    """A browser target curl knows (chrome, chrome131, firefox, safari184...), checked now."""
    browser(target)
    return target


Impersonate = Annotated[str, AfterValidator(impersonation)]


class TransportRule(Strict):
    """Fetch URLs matching ``match`` (a glob, or a regex after ``re:``) over ``transport``,
    presenting ``impersonate`` (curl)."""

    match: UrlMatch
    transport: Literal["aiohttp", "curl"] = "curl"
    impersonate: Impersonate | None = None

    @model_validator(mode="after")
    def _curl(self) -> TransportRule:
        if self.impersonate and self.transport == "aiohttp":
            raise ValueError("impersonate needs transport: curl")
        if self.transport == "curl" and (missing := curl_missing()) is not None:
            raise ValueError(missing)
        return self


class ProxyRule(Strict):
    """Route hosts matching ``match`` (a glob, or a regex after ``re:``) to ``proxy``:
    a pool name, a proxy URL or ``direct``."""

    match: UrlMatch
    proxy: str


def duration(value: Any) -> Any:
    """Seconds, from a number or text such as ``90s``, ``30m``, ``6h``, ``2d``."""
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", value)
        if m is None:
            raise ValueError(f"{value!r} is not a duration (e.g. 90s, 30m, 6h, 2d)")
        return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return value


Duration = Annotated[float, BeforeValidator(duration), Field(ge=0)]


def folder_name(name: str) -> str:
    """A name that is a folder of its own (the job's output, a worker's shard): not "." or ".."."""
    if name in (".", ".."):
        raise ValueError(f"{name!r} names no folder of its own (letters, digits, '.', '_', '-')")
    return name


FolderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$"), AfterValidator(folder_name)]


class RecrawlRule(Strict):
    """URLs matching ``match`` (a glob, or a regex after ``re:``) are due again ``after`` this long."""

    match: UrlMatch
    after: Duration


def content_formats(value: Any) -> Any:
    """``markdown``, ``text``, a list of them, or ``markdown,text`` (the CLI's ``--content``)."""
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple):
        return [part.strip() for v in value for part in (v.split(",") if isinstance(v, str) else [v])]
    return value


ContentFormats = Annotated[list[Literal["markdown", "text"]], BeforeValidator(content_formats)]


class Chunks(Strict):
    """Pieces of each page's Markdown for retrieval: about ``words`` words, the next one starting
    with the last ``overlap`` words of the one before (YAML ``{words: 400, overlap: 50}``; CLI
    ``--chunks 400`` or ``400:50``)."""

    words: int = Field(400, ge=20, le=100_000)
    overlap: int = Field(50, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if value is True:
            return {}
        if isinstance(value, int) and not isinstance(value, bool):
            return {"words": value}
        if isinstance(value, str):
            words, _, overlap = value.partition(":")
            if not words.strip().isdigit() or (overlap and not overlap.strip().isdigit()):
                raise ValueError(f"{value!r} is not WORDS or WORDS:OVERLAP (e.g. 400:50)")
            return {"words": int(words), **({"overlap": int(overlap)} if overlap else {})}
        return value

    @model_validator(mode="after")
    def _overlap_below_words(self) -> Chunks:
        if self.overlap >= self.words:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than words ({self.words})")
        return self


class BlockedRule(Strict):
    """One ``blocked_when`` rule: an answer is blocked when every key the rule gives holds, and
    when any rule holds (see :mod:`crawler.core.blocked`)."""

    name: str | None = None  # what a blocked record's message calls the rule [blocked_when[INDEX]]
    status: Statuses = []
    header: str | None = None  # "Name" (the answer has it) or "Name: regex" (a value matches, any case)
    title: str | None = None  # a regex the page's <title> matches
    text: str | None = None  # a regex the body's first max_parse_bytes match (as bytes: UTF-8)
    selector: Annotated[str | None, AfterValidator(checked_css)] = None  # matches on a parsed (2xx HTML) page

    @model_validator(mode="after")
    def _holds_together(self) -> BlockedRule:
        self.rule("")  # a ValueError of one line when it cannot be a rule
        return self

    def rule(self, name: str) -> BlockRule:
        """The rule the crawl checks, called ``name`` unless it has a name of its own."""
        return BlockRule.make(
            self.name or name,
            status=self.status,
            header=self.header,
            title=self.title,
            text=self.text,
            selector=self.selector,
        )


class IdentityPool(Strict):
    """``identities:``: crawl as ``pool`` visitors per route (YAML ``{pool: 4, max_uses: 50}``; CLI
    ``--identities 4``), each with its own proxy, cookies, User-Agent and browser target."""

    pool: int = Field(ge=1, le=1000)
    max_uses: int | None = Field(None, ge=1)  # requests per identity, then a new one
    user_agents: list[HeaderValue] = []  # given to the identities in turn
    impersonate: list[Impersonate] = []  # browser targets (transport: curl), given in turn

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        return {"pool": value} if isinstance(value, int) and not isinstance(value, bool) else value


ENV = "env:"
SECRET_NAME = re.compile(r"(?i)pass|secret|token|key")  # fields whose value must come from the environment


class LoginCheck(Strict):
    """What a logged-in page has and a logged-out one does not: an element (a CSS ``selector``)
    or a ``text`` in its HTML. Exactly one."""

    selector: str | None = None
    text: str | None = Field(None, min_length=1)

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        return checked_css(value)

    @model_validator(mode="after")
    def _one(self) -> LoginCheck:
        if (self.selector is None) == (self.text is None):
            raise ValueError("give exactly one of selector: or text:")
        return self


class Login(Strict):
    """``login:``: the login page and its form (or a ``hook``), the fields to fill in (values from
    the environment: ``env:NAME``), the ``check`` on pages, and the URLs it ``covers``."""

    url: str | None = None
    form: str | None = None  # CSS selector; default: the first form with a password input
    fields: dict[str, str] = {}
    check: LoginCheck
    covers: UrlMatch
    hook: str | None = None  # package.module:function, for flows a form cannot express

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        try:
            return None if value is None else str(parse_seed(value))
        except InvalidURL as e:
            raise ValueError(str(e)) from None

    @field_validator("form")
    @classmethod
    def _form(cls, value: str | None) -> str | None:
        return checked_css(value)

    @field_validator("fields")
    @classmethod
    def _from_environment(cls, fields: dict[str, str]) -> dict[str, str]:
        """Credentials never in the file: a secret field's value is ``env:NAME``, and every
        variable named is set (one line now, not a failed login per URL later)."""
        for name, value in fields.items():
            if value.startswith(ENV):
                variable = value.removeprefix(ENV)
                if not variable or variable not in os.environ:
                    raise ValueError(f"{name}: the environment variable {variable!r} is not set")
            elif SECRET_NAME.search(name):
                raise ValueError(f"{name}: give env:VARIABLE, not the value (credentials stay out of job files)")
        return fields

    @model_validator(mode="after")
    def _url_or_hook(self) -> Login:
        if self.url is None and self.hook is None:
            raise ValueError("give url: (the login page with its form) or hook: (a login in code)")
        return self

    def values(self) -> dict[str, str]:
        """The fields' values, read from the environment now."""
        values = {}
        for name, value in self.fields.items():
            found = os.environ.get(value.removeprefix(ENV)) if value.startswith(ENV) else value
            if found is None:
                raise ConfigError(f"login.fields: {name}: the environment variable {value[4:]!r} is not set")
            values[name] = found
        return values
