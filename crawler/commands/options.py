"""The job options that ``crawler crawl``, ``run`` and ``demo`` share: one table, ``OPTIONS``,
from which :func:`job_options` declares the click options and :func:`overrides_from` reads the
values given back as Job fields, so a flag and its field cannot drift apart (``docs/gen_reference.py``
reads it too). ``crawler.cli`` loads it at start: click, and nothing of the crawl's stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from crawler.core.errors import ConfigError

# (option decls, Job field, kind) — kind: "value", "list", "flag", "header", "cookie", "timeout.X"
OPTIONS: list[tuple[tuple[str, ...], str, str, str]] = [
    (("-o", "--output"), "output", "value", "Output directory (default output/<job name>)."),
    (("--name",), "name", "value", "Job name (default: the first start URL's host)."),
    (("--concurrency",), "concurrency", "value", "Requests in flight across all hosts [16]."),
    (("--per-host",), "per_host", "value", "Requests in flight per target host [2]."),
    (("--delay",), "delay", "value", "Seconds between request starts on one host [0]."),
    (("--jitter",), "jitter", "value", "Random extra delay, up to this many seconds [0]."),
    (("--adaptive/--no-adaptive",), "adaptive", "switch", "Slow down hosts that signal overload [on]."),
    (("-H", "--header"), "headers", "header", "Extra header 'Name: value' (repeatable)."),
    (("--cookie",), "cookies", "cookie", "Cookie 'name=value' sent with every request (repeatable)."),
    (("--user-agent",), "user_agent", "value", "User-Agent header."),
    (("--timeout",), "timeout", "timeout.total", "Total seconds per request [60]."),
    (("--connect-timeout",), "timeout", "timeout.connect", "Seconds to connect [10]."),
    (("--read-timeout",), "timeout", "timeout.read", "Seconds per socket read [30]."),
    (("--retries",), "retries", "value", "Retries for timeouts, connection errors, 5xx, 429 [2]."),
    (("--max-redirects",), "max_redirects", "value", "Redirect hops followed from one URL [10]."),
    (("--max-bytes",), "max_bytes", "value", "Largest decoded body kept, in bytes [50000000]."),
    (("--max-pages",), "max_pages", "value", "Stop after this many URLs (each gets a record)."),
    (("--max-depth",), "max_depth", "value", "Follow links at most this many hops from a seed."),
    (("--max-pages-per-host",), "max_pages_per_host", "value", "At most this many URLs per host (trap guard)."),
    (("--max-url-length",), "max_url_length", "value", "Longer links are not followed [2048]."),
    (("--allow-domain",), "allow_domains", "list", "Domain (with subdomains) in scope (repeatable)."),
    (("--include",), "include", "list", "Regex a URL must match to be followed (repeatable)."),
    (("--exclude",), "exclude", "list", "Regex that keeps a URL out (repeatable)."),
    (("--resolve",), "resolve", "list", "Pin HOST:PORT:ADDRESS, curl syntax (repeatable)."),
    (("--dns-server",), "dns_servers", "list", "Resolve names by asking this IP[:PORT] (repeatable)."),
    (("--dns-cache",), "dns_cache", "value", "Names whose DNS answers are kept [10000]."),
    (("--dns-timeout",), "timeout", "timeout.dns", "Seconds per try at a --dns-server [2]."),
    (("--ignore-robots",), "ignore_robots", "flag", "Do not fetch or obey robots.txt."),
    (("--sitemaps",), "sitemaps", "flag", "Seed from robots.txt Sitemap: lines and /sitemap.xml."),
    (("--parse",), "parse", "value", "Parse hook 'package.module:function': yields items and page.follow(url)."),
    (
        ("--request-hook",),
        "request",
        "value",
        "Hook 'package.module:function' that may set headers and cookies of each request before it is sent.",
    ),
    (("--on-record",), "on_record", "value", "Hook 'package.module:function' called with every record."),
    (("--on-item",), "on_item", "value", "Hook 'package.module:function' called with every item."),
    (
        ("--on-content",),
        "on_content",
        "value",
        "Hook 'package.module:function' called with every content line (needs --content).",
    ),
    (
        ("--content",),
        "content",
        "list",
        "Write each HTML page's main content to OUT/content.jsonl: markdown, text, or markdown,text.",
    ),
    (
        ("--main-content/--whole-page",),
        "main_content",
        "switch",
        "Content is the page's main region (boilerplate removed), or its whole body [main].",
    ),
    (("--prefer-markdown",), "prefer_markdown", "flag", "Ask for text/markdown first; take Markdown answers as is."),
    (("--near-duplicates",), "near_duplicates", "value", "mark (default), skip (no content line) or off."),
    (("--chunks",), "chunks", "value", "Also write OUT/chunks.jsonl: WORDS or WORDS:OVERLAP (e.g. 400:50)."),
    (("--format",), "format", "value", "Items as jsonl (default, items.jsonl) or csv (items.csv)."),
    (("--warc",), "warc", "flag", "Also write OUT/crawl.warc.gz: every response as received."),
    (("--follow-nofollow",), "follow_nofollow", "flag", "Follow rel=nofollow links and pages."),
    (("-q", "--quiet"), "quiet", "flag", "No progress line and no summary."),
    (
        ("--progress",),
        "progress",
        "value",
        "auto (a live line on a terminal, else a log line every 10 s), tty, log or off [auto].",
    ),
    (("--metrics",), "metrics", "value", "Serve Prometheus metrics on ADDR:PORT (e.g. 127.0.0.1:9100)."),
    (
        ("--frontier",),
        "frontier",
        "value",
        "sqlite (default: resumable, OUT/state.sqlite), memory, or redis://[:PASSWORD@]HOST:PORT/DB to share "
        "the job with other processes (rediss:// for TLS).",
    ),
    (("--worker-id",), "worker_id", "value", "This worker's name in a shared job [host-pid]; pin it to resume."),
    (("--processes",), "processes", "value", "Run N workers of a shared job here, then merge their shards [1]."),
    (("--lease-ttl",), "lease_ttl", "value", "Seconds before a dead worker's URLs and slots are taken back [30]."),
    (("--redis-wait",), "redis_wait", "value", "Seconds to keep retrying an unreachable Redis before stopping [60]."),
    (
        ("--parser",),
        "parser",
        "value",
        "process (parse in a second process), inline, or auto [auto: process with 2+ CPUs].",
    ),
    (
        ("--fresh/--no-fresh",),
        "fresh",
        "switch",
        "Start over: delete OUT's state, records and pages first (a shared job: its Redis keys too).",
    ),
    (
        ("--render",),
        "render",
        "list",
        "URL glob (or re: regex) of pages to load in Chromium, JavaScript run (repeatable; needs '.[render]').",
    ),
    (
        ("--render-auto",),
        "render_auto",
        "flag",
        "Fetch over HTTP first; load in the browser the pages that look built by scripts.",
    ),
    (("--render-wait",), "render_wait", "value", "load, domcontentloaded or networkidle [load]."),
    (("--render-selector",), "render_selector", "value", "Also wait until this CSS selector matches."),
    (("--render-timeout",), "render_timeout", "value", "Seconds a rendered page may take [30]."),
    (("--render-concurrency",), "render_concurrency", "value", "Pages open in the browser at once [4]."),
    (
        ("--render-screenshot",),
        "render_screenshot",
        "flag",
        "Save a full-page PNG of each rendered page in OUT/screens/.",
    ),
    (
        ("--recrawl",),
        "recrawl",
        "flag",
        "Fetch a finished job again with conditional requests; records say new/changed/unchanged/gone.",
    ),
    (("--recrawl-after",), "recrawl_after", "value", "Re-crawl only URLs fetched longer ago than this (6h, 2d)."),
    (
        ("--recrawl-adaptive",),
        "recrawl_adaptive",
        "flag",
        "Each URL's re-crawl interval halves when it changed and doubles when it did not.",
    ),
    (("--proxy",), "proxy", "value", "Proxy URL: http(s)://, socks5(h)://, socks4://, user:pass@ allowed."),
    (("--proxy-rotation",), "proxy_rotation", "value", "round_robin, random, least_used or sticky."),
    (("--proxy-concurrency",), "proxy_concurrency", "value", "Requests in flight per proxy."),
    (
        ("--transport",),
        "transport",
        "value",
        "aiohttp (default) or curl: HTTP/2 and, with --impersonate, a browser's TLS.",
    ),
    (
        ("--impersonate",),
        "impersonate",
        "value",
        "Browser curl presents: chrome, firefox, safari, edge, or e.g. chrome131.",
    ),
    (
        ("--identities",),
        "identities",
        "value",
        "Crawl as N visitors, each with its own cookies and proxy (YAML identities: has more).",
    ),
    (("--http3",), "http3", "flag", "With curl: HTTP/3 (QUIC) first for https:// URLs without a proxy."),
    (("--trust-env",), "trust_env", "flag", "Honour HTTP(S)_PROXY and NO_PROXY."),
    (("--insecure",), "insecure", "flag", "Do not verify TLS certificates."),
    (
        ("--block-private-ips",),
        "block_private_ips",
        "flag",
        "Refuse private, loopback and link-local addresses (after DNS) for untrusted link graphs.",
    ),
    (("--ca-bundle",), "ca_bundle", "value", "PEM file of CAs to trust (private CAs)."),
]


def job_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Attach every job option to a click command."""
    for decls, field, kind, help_text in reversed(OPTIONS):
        dest = _dest(decls, field, kind)
        if kind == "switch":
            func = click.option(*decls, dest, default=None, help=help_text)(func)
        elif kind == "flag":
            func = click.option(*decls, dest, is_flag=True, default=None, help=help_text)(func)
        else:
            multiple = kind in ("list", "header", "cookie")
            func = click.option(*decls, dest, multiple=multiple, default=None, help=help_text)(func)
    return func


def overrides_from(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """CLI params → (Job fields, field → flag name) for values the user actually gave."""
    data: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for decls, field, kind, _ in OPTIONS:
        value = params.get(_dest(decls, field, kind))
        if value is None or value == ():
            continue
        flags[kind if kind.startswith("timeout.") else field] = decls[-1]
        if kind == "header":
            data[field] = dict(_pair(v, ":", decls[-1], "Name: value") for v in value)
        elif kind == "cookie":
            data[field] = dict(_pair(v, "=", decls[-1], "name=value") for v in value)
        elif kind.startswith("timeout."):
            data.setdefault("timeout", {})[kind.split(".")[1]] = value
        else:
            data[field] = list(value) if kind == "list" else value
    return data, flags


def _dest(decls: tuple[str, ...], field: str, kind: str) -> str:
    """The click parameter name of an option: its long name, or the field for an on/off switch."""
    return field if kind == "switch" else decls[-1].lstrip("-").replace("-", "_")


def _pair(text: str, sep: str, flag: str, shape: str) -> tuple[str, str]:
    name, found, value = text.partition(sep)
    if not found or not name.strip():
        raise ConfigError(f"{flag} {text!r}: expected '{shape}'")
    return name.strip(), value.strip()
