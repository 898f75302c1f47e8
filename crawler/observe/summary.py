"""The crawl's numbers as text: the live progress line and the closing summary the CLI prints.
The one place that formats :class:`~crawler.observe.stats.Stats` and the records of use it holds
(proxies, throttled hosts, the browser, Redis, name lookups, identities and logins), so their
wording lives here and nowhere else."""

from __future__ import annotations

import heapq

from crawler.core.usage import BrowserUse, DnsUse, IdentityUse, ProxyUse, RedisUse, Throttled
from crawler.observe.stats import Stats


def progress_line(stats: Stats, queued: int, inflight: int) -> str:
    """The live line: elapsed time, counts, the recent rate and the frontier's queue."""
    e = int(stats.elapsed())
    return (
        f"{e // 3600}:{e // 60 % 60:02d}:{e % 60:02d}  {stats.records} urls  {stats.pages} pages  "
        f"{sum(stats.errors.values())} errors  {stats.bytes / 1e6:.1f} MB  {stats.recent_rate():.0f} pages/s  "
        f"queued {queued}  in flight {inflight}"
    )


def summary(stats: Stats, output: str) -> str:
    """The closing summary: what the crawl did, what is left, and how it used its resources."""
    e = stats.elapsed()
    errs = ", ".join(f"{k} {v}" for k, v in sorted(stats.errors.items())) or "none"
    lines = [
        f"{'Interrupted' if stats.interrupted else 'Done'} in {e:.2f}s: {stats.records} URLs, "
        f"{stats.pages} pages, {stats.redirects} redirects, {stats.bytes / 1e6:.1f} MB, "
        f"{stats.records / e:.1f} URLs/s",
        f"errors: {errs}; retries: {stats.retries}"
        + (f"; items: {stats.items}" if stats.items else "")
        + (f"; hook failures: {stats.hook_failures}" if stats.hook_failures else ""),
    ]
    if stats.recrawled is not None:
        lines.insert(0, f"Re-crawl: crawl {stats.generation}, {stats.recrawled} known URLs due again")
    if stats.generation > 1:
        c = stats.changes
        lines.append(
            f"crawl {stats.generation}: {c['new']} new, {c['changed']} changed, {c['unchanged']} "
            f"unchanged, {c['gone']} gone (OUT/changes.jsonl)"
        )
    if stats.blocked:
        lines.append(blocked_line(stats))
    if stats.content_pages:
        lines.append(
            f"content: {stats.content_pages} pages, {stats.near_duplicates} near-duplicates (OUT/content.jsonl)"
        )
    if stats.extract_errors:
        lines.append(
            f"extraction errors: {stats.extract_errors} on {stats.extract_error_pages} pages "
            "(see extract_errors in records.jsonl)"
        )
    if stats.resumed:
        lines.insert(0, f"Resumed: {stats.resumed} URLs were already done before this run")
    if stats.damaged:
        lines.append(
            f"{stats.damaged} damaged lines of records/items were set aside (OUT/<file>.damaged) before resuming"
        )
    if stats.left_queued:
        lines.append(f"{stats.left_queued} URLs are still queued; run the same job again to resume")
    if stats.connections:
        lines.append(
            f"connections: {stats.new_connections} new for {stats.connections} requests "
            f"({stats.new_connections / stats.connections:.2f} per request)"
        )
    if stats.dns is not None and stats.dns.lookups:
        lines.append(dns_line(stats.dns))
    if stats.identities is not None:
        lines.append(identities_line(stats.identities))
        if stats.identities.login:
            lines.append(logins_line(stats.identities))
    if stats.redis is not None:
        lines.append(redis_line(stats.redis, stats.records))
    if stats.browser is not None:
        lines.append(browser_line(stats.browser))
    throttled = stats.throttled
    if throttled.hosts:
        lines += ["throttled hosts:", *(f"  {throttled_line(t)}" for t in throttled.hosts)]
        if throttled.more:
            lines.append(f"  ... and {throttled.more} more hosts")
    if stats.proxies:
        lines += ["proxies:", *(f"  {proxy_line(p)}" for p in stats.proxies)]
    lines.append(f"output: {output}")
    return "\n".join(lines)


BLOCKED_HOSTS = 5  # hosts the summary names after the count of blocked answers


def blocked_line(stats: Stats) -> str:
    """Blocked answers, and the hosts that gave most of them."""
    top = heapq.nlargest(BLOCKED_HOSTS, ((c.blocked, h) for h, c in stats.hosts.items() if c.blocked))
    hosts = ", ".join(f"{h} {n}" for n, h in top)
    return f"blocked pages: {stats.blocked} answers ({hosts}), each retried or its URL's error (kind blocked)"


def dns_line(use: DnsUse) -> str:
    by = ", ".join(use.servers) if use.servers else "the system resolver"
    return (
        f"dns ({by}): {use.lookups} lookups, {use.cached} answered from the cache, {use.not_found} names "
        f"not found, {use.failures} failed; {use.seconds / use.lookups * 1000:.1f} ms per lookup"
    )


def identities_line(use: IdentityUse) -> str:
    why = ", ".join(f"{n} {k}" for k, n in use.retired.items() if n)
    return f"identities: {use.made} made, {sum(use.retired.values())} retired" + (f" ({why})" if why else "")


def logins_line(use: IdentityUse) -> str:
    return f"logins: {use.logins} ({use.relogins} after a session expired), {use.login_failures} failed"


def redis_line(use: RedisUse, records: int) -> str:
    per = f" ({use.calls / records:.1f} per URL)" if records else ""
    return f"shared job {use.job!r} at {use.server}, worker {use.worker}: redis: {use.calls} round trips{per}"


def browser_line(use: BrowserUse) -> str:
    return (
        f"browser: {use.pages} pages rendered, {use.peak_mb:.0f} MB at most (read every {use.check_every} "
        f"pages), {use.restarts} restarts over render_memory_mb, {use.relaunches} after a crash"
    )


def throttled_line(host: Throttled) -> str:
    workers = " (all workers)" if host.shared else ""
    return (
        f"{host.host}: slowed {host.throttles} times{workers}, down to {host.least} of "
        f"{host.limit} slots; now {host.slots} slots, {host.delay:g}s delay"
    )


def proxy_line(use: ProxyUse) -> str:
    blocked = f" ({use.blocked} blocked pages)" if use.blocked else ""
    return (
        f"{use.id}: {use.requests} requests, {use.failures} failures, {use.bans} bans{blocked}, "
        f"{use.bytes / 1e6:.1f} MB, {use.state}"
    )
