"""One job schema for CLI flags and YAML files.

A YAML key is the flag's long name with ``_`` for ``-`` (plural for repeatable flags). CLI values
override the file. Reading a job file and turning validation problems into one readable line
each is :mod:`crawler.jobfile`'s.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from yarl import URL

from crawler import __version__
from crawler.core.errors import InvalidURL
from crawler.core.outgoing import breaks_header
from crawler.core.proxy_url import parse_proxy
from crawler.core.urls import parse_seed
from crawler.job_values import (
    DAY,
    RESOURCE_TYPES,
    BlockedRule,
    Chunks,
    ContentFormats,
    Duration,
    FolderName,
    HeaderValue,
    HttpStatus,
    IdentityPool,
    Impersonate,
    Login,
    Nameserver,
    ProxyRule,
    ProxyUrl,
    RecrawlRule,
    Regex,
    Timeouts,
    TransportRule,
    url_match,
)
from crawler.net.transports import check_transports
from crawler.parsing.rules import ExtractRule, FollowRule, Strict

DEFAULT_USER_AGENT = f"crawler/{__version__} (+https://github.com/crawler-project/crawler)"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESOLVE = re.compile(r"^(?P<host>[^:\s]+):(?P<port>\d{1,5}):(?P<addr>\S+)$")


class Job(Strict):
    """Everything a crawl needs to know; built from YAML, CLI flags, or both."""

    name: FolderName | None = None
    start_urls: list[str] = Field(min_length=1)
    output: Path | None = None
    concurrency: int = Field(16, ge=1, le=10_000)
    per_host: int = Field(2, ge=1, le=1_000)
    delay: float = Field(0.0, ge=0, le=DAY)
    jitter: float = Field(0.0, ge=0, le=DAY)
    adaptive: bool = True
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    user_agent: HeaderValue = DEFAULT_USER_AGENT
    timeout: Timeouts = Timeouts()
    retries: int = Field(2, ge=0, le=100)
    retry_backoff: float = Field(0.5, ge=0, le=DAY)
    max_retry_after: float = Field(60.0, ge=0, le=DAY)
    max_redirects: int = Field(10, ge=0, le=100)
    max_bytes: int = Field(50_000_000, ge=1)
    max_parse_bytes: int = Field(5_000_000, ge=1)
    max_pages: int | None = Field(None, ge=1)
    max_pages_per_host: int | None = Field(None, ge=1)
    max_url_length: int = Field(2048, ge=16)
    max_depth: int | None = Field(None, ge=0)
    allow_domains: list[str] = []
    include: list[str] = []
    exclude: list[str] = []
    resolve: list[str] = []
    dns_servers: list[Nameserver] = []  # IP[:PORT] nameservers asked through c-ares; none: the system resolver
    dns_cache: int = Field(10_000, ge=0, le=10_000_000)  # names whose answers are kept (TTLs honoured)
    ignore_robots: bool = False
    follow_nofollow: bool = False
    quiet: bool = False
    progress: Literal["auto", "tty", "log", "off"] = "auto"
    metrics: str | None = None  # ADDR:PORT for Prometheus (/metrics)
    frontier: str = "sqlite"  # sqlite, memory, or redis(s)://[:password@]host:port/db (shared job)
    worker_id: FolderName | None = None
    processes: int = Field(1, ge=1, le=256)
    lease_ttl: float = Field(30.0, ge=1, le=DAY)
    redis_wait: float = Field(60.0, ge=0, le=DAY)
    parser: Literal["auto", "process", "inline"] = "auto"
    fresh: bool = False
    recrawl: bool = False  # start the next generation of a finished job (YAML "recrawl: adaptive" too)
    recrawl_after: Duration | None = None  # only URLs last fetched longer ago than this
    recrawl_rules: list[RecrawlRule] = []
    recrawl_adaptive: bool = False  # each URL's interval follows how often it changes
    extract: list[ExtractRule] = []
    follow: list[FollowRule] = []
    content: ContentFormats = []  # main content of each HTML page to OUT/content.jsonl: markdown, text
    main_content: bool = True  # False: the whole body, boilerplate included
    prefer_markdown: bool = False  # ask for text/markdown first; a Markdown answer is taken as is
    near_duplicates: Literal["mark", "skip", "off"] = "mark"  # by SimHash of the main text
    chunks: Chunks | None = None  # OUT/chunks.jsonl: the Markdown cut for retrieval
    parse: str | None = None  # hook "package.module:function" (see crawler.hooks)
    request: str | None = None
    on_record: str | None = None
    on_item: str | None = None
    on_content: str | None = None
    sitemaps: bool = False
    render: list[str] = []  # URL globs (or re: regexes) of pages to load in the browser
    render_auto: bool = False  # also render pages whose plain HTML looks like a script-built shell
    render_wait: Literal["load", "domcontentloaded", "networkidle"] = "load"
    render_selector: str | None = None  # also wait until this CSS selector matches
    render_timeout: float = Field(30.0, gt=0, le=DAY)
    render_block: list[str] = ["image", "font", "media"]  # resource types the browser does not load
    render_viewport: str = Field("1280x800", pattern=r"^\d{2,5}x\d{2,5}$")
    render_concurrency: int = Field(4, ge=1, le=64)
    render_screenshot: bool = False  # a full-page PNG of each rendered page in OUT/screens/
    render_browser: str = "/usr/lib/chromium/chromium"
    render_memory_mb: int = Field(2048, ge=1)  # a browser grown past this (PSS) is replaced
    format: Literal["jsonl", "csv"] = "jsonl"
    warc: bool = False
    proxy: ProxyUrl | None = None
    proxies: list[ProxyUrl] = []
    proxy_pools: dict[str, list[ProxyUrl]] = {}
    proxy_rules: list[ProxyRule] = []
    proxy_rotation: Literal["round_robin", "random", "least_used", "sticky"] = "round_robin"
    proxy_concurrency: int | None = Field(None, ge=1)
    proxy_cooldown: float = Field(5.0, ge=0, le=DAY)
    proxy_wait: float = Field(60.0, ge=0, le=DAY)
    proxy_retries: int = Field(10, ge=0, le=1000)
    proxy_ban_status: list[HttpStatus] = []
    proxy_ban_body: Regex | None = None
    blocked_when: list[BlockedRule] = []  # answers that are challenge pages, not pages (error kind blocked)
    blocked_defaults: bool = True  # also the rules that catch the common challenge pages
    transport: Literal["aiohttp", "curl"] = "aiohttp"  # curl: HTTP/2, a browser's TLS with impersonate
    impersonate: Impersonate | None = None  # implies transport: curl
    transport_rules: list[TransportRule] = []
    http3: bool = False  # curl: HTTP/3 (QUIC) first for https:// URLs without a proxy, else HTTP/2
    identities: IdentityPool | None = None  # crawl as N visitors: a proxy, cookies, headers each (--identities N)
    login: Login | None = None  # log the identities in (implies identities: 1)
    trust_env: bool = False
    block_private_ips: bool = False
    insecure: bool = False
    ca_bundle: Path | None = None

    @field_validator("frontier")
    @classmethod
    def _frontier(cls, value: str) -> str:
        if value in ("sqlite", "memory"):
            return value
        try:
            url = URL(value)
        except ValueError:
            url = URL()
        if url.scheme not in ("redis", "rediss") or not url.host:
            raise ValueError("expected sqlite, memory, or a Redis URL redis://host:port/db (rediss:// for TLS)")
        if url.path not in ("", "/") and not url.path.strip("/").isdigit():
            raise ValueError(f"the Redis URL's path must be a database number, not {url.path!r}")
        from redis.asyncio.connection import parse_url

        try:
            parse_url(value)  # its query options (socket_timeout=…), as the client will read them
        except ValueError as e:
            raise ValueError(f"the Redis URL: {e}") from None
        return value

    @property
    def shared(self) -> bool:
        """True when the job's frontier is in Redis, shared with other processes."""
        return self.frontier.startswith(("redis://", "rediss://"))

    @field_validator("proxy_pools")
    @classmethod
    def _pools(cls, pools: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, urls in pools.items():
            if name in ("direct", "default") or not urls:
                raise ValueError(f"pool {name!r}: needs a name other than direct/default and at least one proxy")
        return pools

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"{path} is not a file")
        if path is not None:
            try:
                ssl.create_default_context(cafile=str(path))
            except (ssl.SSLError, OSError) as e:
                raise ValueError(f"{path} is not a PEM file of CA certificates ({e.strerror or e})") from None
        return path

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, value: Any) -> Any:
        if isinstance(value, str | Path) and not str(value).strip():
            raise ValueError('empty: give a folder ("." for this one)')
        if isinstance(value, str | Path) and Path(value).exists() and not Path(value).is_dir():
            raise ValueError(f"{value} is a file, not a folder")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not re.fullmatch(r"[^\s:]+:\d{1,5}", value):
            raise ValueError(f"{value!r} is not ADDR:PORT (e.g. 127.0.0.1:9100)")
        if not 0 < int(value.rpartition(":")[2]) < 65536:
            raise ValueError(f"{value!r}: the port must be 1-65535")
        return value

    @field_validator("render")
    @classmethod
    def _render(cls, patterns: list[str]) -> list[str]:
        return [url_match(p) for p in patterns]

    @field_validator("render_block")
    @classmethod
    def _render_block(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - RESOURCE_TYPES)
        if unknown:
            raise ValueError(f"unknown resource type {unknown[0]!r} (one of {', '.join(sorted(RESOURCE_TYPES))})")
        return types

    @field_validator("render_viewport")
    @classmethod
    def _viewport(cls, size: str) -> str:
        if not all(100 <= int(n) <= 10_000 for n in size.split("x")):
            raise ValueError(f"{size!r}: width and height must be 100-10000 pixels")
        return size

    @model_validator(mode="after")
    def _hook_items_are_jsonl(self) -> Job:
        if self.parse and self.format == "csv":
            raise ValueError("format: csv needs fixed columns; items of a parse hook are written as jsonl")
        return self

    @property
    def hook_paths(self) -> dict[str, str | None]:
        return {
            "parse": self.parse,
            "request": self.request,
            "on_record": self.on_record,
            "on_item": self.on_item,
            "on_content": self.on_content,
            "login": self.login.hook if self.login is not None else None,
        }

    @model_validator(mode="before")
    @classmethod
    def _render_auto(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("render") == "auto":
            return {**data, "render": [], "render_auto": True}
        return data

    @model_validator(mode="before")
    @classmethod
    def _recrawl_adaptive(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("recrawl") == "adaptive":
            return {**data, "recrawl": True, "recrawl_adaptive": True}
        return data

    @model_validator(mode="after")
    def _content_options_need_content(self) -> Job:
        if self.chunks is not None and "markdown" not in self.content:
            raise ValueError("chunks are cut from the Markdown: needs content: markdown (--content markdown)")
        given = [k for k in ("on_content", "near_duplicates", "main_content") if k in self.model_fields_set]
        if given and not self.content:
            raise ValueError(f"{given[0]} needs content: markdown or text (--content)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _impersonate_means_curl(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("impersonate") and data.get("transport") is None:
            return {**data, "transport": "curl"}
        return data

    @model_validator(mode="after")
    def _impersonate_needs_curl(self) -> Job:
        browsers = bool(self.impersonate or (self.identities and self.identities.impersonate))
        check_transports(self.transport, browsers, any(r.transport == "curl" for r in self.transport_rules), self.http3)
        return self

    @model_validator(mode="after")
    def _recrawl_needs_state(self) -> Job:
        if self.recrawl and self.frontier == "memory":
            raise ValueError("recrawl: needs the job's saved state (frontier: sqlite or redis://…), not memory")
        return self

    @model_validator(mode="after")
    def _processes_share(self) -> Job:
        if self.processes > 1 and not self.shared:
            raise ValueError("processes: more than one worker needs a shared frontier: redis://host:port/db")
        return self

    @model_validator(mode="after")
    def _rules_name_routes(self) -> Job:
        if self.proxy and self.proxies:
            raise ValueError("give either proxy (one) or proxies (a pool), not both")
        for i, rule in enumerate(self.proxy_rules):
            if rule.proxy not in ("direct", *self.proxy_pools) and "://" not in rule.proxy:
                raise ValueError(f"proxy_rules item {i}: {rule.proxy!r} is not direct, a pool name or a proxy URL")
            if "://" in rule.proxy:
                parse_proxy(rule.proxy)
        return self

    @property
    def default_proxies(self) -> list[str]:
        return [self.proxy] if self.proxy else list(self.proxies)

    @field_validator("start_urls")
    @classmethod
    def _urls(cls, urls: list[str]) -> list[str]:
        out = []
        for i, u in enumerate(urls):
            try:
                out.append(str(parse_seed(u)))
            except InvalidURL as e:
                raise ValueError(f"item {i}: {e}") from None
        return out

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for p in patterns:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"bad regex {p!r}: {e}") from None
        return patterns

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for k, v in headers.items():
            if not _HEADER_NAME.match(k):
                raise ValueError(f"bad header name {k!r}")
            if breaks_header(v):
                raise ValueError(f"header {k!r}: value contains CR, LF or NUL")
        return headers

    @field_validator("cookies")
    @classmethod
    def _cookies(cls, cookies: dict[str, str]) -> dict[str, str]:
        for k, v in cookies.items():
            if not _HEADER_NAME.match(k) or breaks_header(v) or ";" in v:
                raise ValueError(f"bad cookie {k!r}")
        return cookies

    @field_validator("resolve")
    @classmethod
    def _resolve(cls, pins: list[str]) -> list[str]:
        for p in pins:
            m = _RESOLVE.match(p)
            if not m or not 0 < int(m["port"]) < 65536:
                raise ValueError(f"{p!r} is not HOST:PORT:ADDRESS")
            try:
                ipaddress.ip_address(m["addr"].strip("[]"))
            except ValueError:
                raise ValueError(f"{p!r}: {m['addr']!r} is not an IP address") from None
        return pins

    @field_validator("allow_domains")
    @classmethod
    def _domains(cls, domains: list[str]) -> list[str]:
        for d in domains:
            if not d.strip(".") or re.search(r"[\s/:*?@#]", d):
                raise ValueError(f"{d!r} is not a domain name (e.g. example.org: no scheme, port, path or '*')")
        return [d.lower().lstrip(".") for d in domains]

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout_number(cls, v: Any) -> Any:
        return {"total": v} if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @property
    def job_name(self) -> str:
        """The name, or one derived from the first seed's host."""
        return self.name or (URL(self.start_urls[0]).host or "crawl").replace(":", "_")

    @property
    def output_dir(self) -> Path:
        return self.output or Path("output") / self.job_name

    def resolve_pins(self) -> dict[tuple[str, int], str]:
        """``--resolve`` entries as {(host, port): address}."""
        pins = {}
        for p in self.resolve:
            m = _RESOLVE.match(p)
            assert m is not None  # validated above
            pins[(m["host"].lower(), int(m["port"]))] = m["addr"].strip("[]")
        return pins
