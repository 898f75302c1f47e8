"""Each component's settings, read off the :class:`~crawler.config.Job`: one function per
settings object (``fetch_settings``, ``render_settings``, ``reader_settings``, ``output_settings``
…), so a new job option is a field of the schema, one of a settings object, and one line here.
:mod:`crawler.wiring` builds the parts from them; below these two modules nothing sees the Job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crawler.admission import AdmissionSettings, LinkRules
from crawler.config import Job
from crawler.content.settings import ContentSettings
from crawler.core.blocked import BlockRules
from crawler.core.request import Caps
from crawler.core.urls import Scope
from crawler.net.browser import BrowserSettings
from crawler.net.dns import DnsSettings
from crawler.net.identities import IdentitySettings
from crawler.net.login import LoginSettings
from crawler.net.proxies import Router
from crawler.net.render import RenderSettings
from crawler.net.session import FetchSettings
from crawler.net.transports import TransportRule, TransportSettings, browser
from crawler.parsing.reader import ReaderSettings
from crawler.pipeline import PipelineSettings
from crawler.recrawl import RecrawlSettings
from crawler.sinks.output import OutputSettings


@dataclass(frozen=True, slots=True)
class CrawlSettings:
    """What the engine itself reads: the seeds, how the crawl starts, how many requests at once."""

    seeds: tuple[str, ...]
    sitemaps: bool  # also admit the pages the seeds' sitemaps list
    ignore_robots: bool  # (sitemaps named in robots.txt are not read then)
    max_bytes: int  # a sitemap's size at most
    concurrency: int
    fresh: bool  # forget what an earlier run did
    recrawl: bool  # start the next generation of a finished job
    metrics: str | None  # ADDR:PORT to serve /metrics on


def crawl_settings(job: Job) -> CrawlSettings:
    return CrawlSettings(
        seeds=tuple(job.start_urls),
        sitemaps=job.sitemaps,
        ignore_robots=job.ignore_robots,
        max_bytes=job.max_bytes,
        concurrency=job.concurrency,
        fresh=job.fresh,
        recrawl=job.recrawl,
        metrics=job.metrics,
    )


def fetch_settings(job: Job) -> FetchSettings:
    return FetchSettings(
        user_agent=job.user_agent,
        headers=request_headers(job),
        cookies=dict(job.cookies),
        connect_timeout=job.timeout.connect,
        read_timeout=job.timeout.read,
        total_timeout=job.timeout.total,
        concurrency=job.concurrency,
        per_host=job.per_host,
        pins=job.resolve_pins(),
        block_private_ips=job.block_private_ips,
        dns=dns_settings(job),
        trust_env=job.trust_env,
        insecure=job.insecure,
        ca_bundle=job.ca_bundle,
        max_bytes=job.max_bytes,
        parse_cap=parse_cap(job),
        max_retry_after=job.max_retry_after,
        proxy_ban_status=frozenset(job.proxy_ban_status),
        proxy_ban_body=job.proxy_ban_body,
        user_agent_set="user_agent" in job.model_fields_set or bool(job.identities and job.identities.user_agents),
        markdown_pages=job.prefer_markdown,
        transports=TransportSettings(
            job.transport,
            browser(job.impersonate) if job.impersonate else None,
            tuple(
                TransportRule(r.match, r.transport, browser(r.impersonate) if r.impersonate else None)
                for r in job.transport_rules
            ),
            job.http3,
        ),
        blocked=blocked_rules(job),
    )


def parse_cap(job: Job) -> int:
    """Bytes of an HTML page kept to parse, and searched by ``proxy_ban_body`` and a login's checks:
    ``max_parse_bytes``, within ``max_bytes``."""
    return min(job.max_parse_bytes, job.max_bytes)


def blocked_rules(job: Job) -> BlockRules:
    """``blocked_when`` (named by their place unless they have names) and, unless turned off, the defaults."""
    rules = (rule.rule(f"blocked_when[{i}]") for i, rule in enumerate(job.blocked_when))
    return BlockRules(rules, defaults=job.blocked_defaults)


MARKDOWN_FIRST = "text/markdown, text/html;q=0.9, */*;q=0.8"


def request_headers(job: Job) -> dict[str, str]:
    """The job's headers; ``prefer_markdown`` asks for Markdown first unless the job sets Accept."""
    headers = dict(job.headers)
    if job.prefer_markdown and not any(name.lower() == "accept" for name in headers):
        headers["Accept"] = MARKDOWN_FIRST
    return headers


def dns_settings(job: Job) -> DnsSettings:
    return DnsSettings(servers=tuple(job.dns_servers), cache=job.dns_cache, timeout=job.timeout.dns)


def render_settings(job: Job) -> RenderSettings:
    width, _, height = job.render_viewport.partition("x")
    return RenderSettings(
        patterns=tuple(job.render),
        wait=job.render_wait,
        selector=job.render_selector,
        timeout=job.render_timeout,
        block=frozenset(job.render_block),
        viewport=(int(width), int(height)),
        user_agent=job.user_agent,
        headers=dict(job.headers),
        cookies=dict(job.cookies),
        insecure=job.insecure,
        max_bytes=job.max_bytes,
        max_retry_after=job.max_retry_after,
        blocked=blocked_rules(job),
        proxy_ban_status=frozenset(job.proxy_ban_status),
        proxy_ban_body=job.proxy_ban_body,
        ban_body_bytes=parse_cap(job),
        browser=BrowserSettings(
            executable=job.render_browser,
            concurrency=job.render_concurrency,
            timeout=job.render_timeout,
            memory_mb=job.render_memory_mb,
            refuse_sockets="websocket" in job.render_block,
            pins=job.resolve_pins(),
            guard=job.block_private_ips,
            dns=dns_settings(job),
            connect_timeout=job.timeout.connect,
        ),
    )


def router(job: Job) -> Router:
    """The proxy router (it holds the proxies' health, so it is a part, not settings; and the
    secrets the crawl's messages are redacted of: the login's values too)."""
    return Router(
        job.default_proxies,
        job.proxy_pools,
        [(r.match, r.proxy) for r in job.proxy_rules],
        rotation=job.proxy_rotation,
        cap=job.proxy_concurrency,
        cooldown=job.proxy_cooldown,
        wait=job.proxy_wait,
        secrets=job.login.values().values() if job.login is not None else (),
    )


def identity_settings(job: Job) -> IdentitySettings | None:
    """``identities:``; a login's job without it has one identity (its cookies are the crawler's)."""
    pool = job.identities
    if pool is None:
        return IdentitySettings(pool=1) if job.login is not None else None
    return IdentitySettings(pool.pool, pool.max_uses, tuple(pool.user_agents), tuple(map(browser, pool.impersonate)))


def login_settings(job: Job) -> LoginSettings | None:
    login = job.login
    if login is None:
        return None
    return LoginSettings(
        covers=login.covers,
        url=login.url,
        form=login.form,
        fields=login.values(),
        check_selector=login.check.selector,
        check_text=login.check.text,
        limit=parse_cap(job),
    )


def link_rules(job: Job) -> LinkRules:
    scope = Scope(job.start_urls, job.allow_domains, job.include, job.exclude, job.max_depth)
    return LinkRules(scope, job.max_url_length)


def admission_settings(job: Job) -> AdmissionSettings:
    return AdmissionSettings(link_rules(job), Caps(job.max_pages, job.max_pages_per_host))


def reader_settings(job: Job) -> ReaderSettings:
    return ReaderSettings(
        rules=link_rules(job),
        extract=tuple(job.extract),
        follow=tuple(job.follow),
        follow_nofollow=job.follow_nofollow,
        detect_shells=job.render_auto,
        content=content_settings(job) if job.content else None,
        blocked=blocked_rules(job),
    )


def content_settings(job: Job) -> ContentSettings:
    return ContentSettings(
        markdown="markdown" in job.content,
        text="text" in job.content,
        main_content=job.main_content,
        simhash=looks_for_near_duplicates(job),
        chunk_words=job.chunks.words if job.chunks is not None else None,
        chunk_overlap=job.chunks.overlap if job.chunks is not None else 0,
    )


def looks_for_near_duplicates(job: Job) -> bool:
    return bool(job.content) and job.near_duplicates != "off"


def recrawl_settings(job: Job) -> RecrawlSettings:
    rules = tuple((rule.match, rule.after) for rule in job.recrawl_rules)
    return RecrawlSettings(after=job.recrawl_after, rules=rules, adaptive=job.recrawl_adaptive)


def pipeline_settings(job: Job) -> PipelineSettings:
    return PipelineSettings(
        ignore_robots=job.ignore_robots,
        retries=job.retries,
        retry_backoff=job.retry_backoff,
        proxy_retries=job.proxy_retries,
        max_redirects=job.max_redirects,
        recrawl=recrawl_settings(job),
    )


def output_settings(job: Job, *, hook_items: bool) -> OutputSettings:
    """Items go to CSV only with extract rules (their fields are the columns); a parse hook's
    items are JSONL (the job's validation refuses CSV with a parse hook)."""
    content = {
        "content": bool(job.content),
        "chunks": job.chunks is not None,
        "skip_near_duplicates": job.near_duplicates == "skip",
        "near_index": looks_for_near_duplicates(job) and not job.shared,
    }
    if job.extract and job.format == "csv":
        columns = tuple(dict.fromkeys(f for rule in job.extract for f in rule.fields))
        return OutputSettings("csv", columns, job.warc, **content)
    return OutputSettings("jsonl" if job.extract or hook_items else None, (), job.warc, **content)


def identity(job: Job) -> dict[str, Any]:
    """What makes a shared job one job (see :mod:`crawler.redis.identity`), as JSON data."""
    from crawler.redis.identity import DEFINING

    data: dict[str, Any] = job.model_dump(mode="json", include=set(DEFINING), exclude_defaults=True)
    return data
