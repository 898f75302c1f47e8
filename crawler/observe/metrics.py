"""``--metrics ADDR:PORT``: the crawl's counters in Prometheus text format at ``/metrics``.

Served by aiohttp on the crawl's own event loop (no thread competing with it). Per-host series
are the busiest hosts plus ``other``, so a broad crawl cannot blow up the series count.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

from crawler.core.errors import ConfigError
from crawler.core.request import Counts
from crawler.core.usage import IdentityUse, ProxyUse
from crawler.observe.stats import Stats
from crawler.observe.statslog import top_hosts


def render(stats: Stats, counts: Counts, inflight: int, proxies: Iterable[ProxyUse]) -> str:
    """The exposition text (format 0.0.4)."""
    out: list[str] = []

    def family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        out.append(f"# HELP crawler_{name} {help_text}\n# TYPE crawler_{name} {kind}")
        for labels, value in samples:
            shown = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            out.append(f"crawler_{name}{{{shown}}} {value}" if shown else f"crawler_{name} {value}")

    family("urls_total", "counter", "URLs with a final record.", [({}, stats.records)])
    family("pages_total", "counter", "Pages fetched (2xx, or 304 in a re-crawl).", [({}, stats.pages)])
    family("rendered_pages_total", "counter", "Pages loaded in the browser (render:).", [({}, stats.rendered)])
    family("bytes_total", "counter", "Body bytes of the pages (decoded).", [({}, stats.bytes)])
    family("retries_total", "counter", "Attempts retried.", [({}, stats.retries)])
    family("items_total", "counter", "Items extracted.", [({}, stats.items)])
    family(
        "blocked_total",
        "counter",
        "Answers that were blocked pages (blocked_when), retried or not.",
        [({}, stats.blocked)],
    )
    family(
        "errors_total",
        "counter",
        "Records with an error, by kind.",
        [({"kind": k}, v) for k, v in sorted(stats.errors.items())],
    )
    family(
        "responses_total",
        "counter",
        "Final records by HTTP status.",
        [({"status": str(k)}, v) for k, v in sorted(stats.statuses.items())],
    )
    family("queued", "gauge", "URLs waiting in the frontier (the whole job).", [({}, counts.queued)])
    family("inflight", "gauge", "Requests in flight in this process.", [({}, inflight)])
    hosts = top_hosts(stats)
    for field, help_text in (
        ("urls", "URLs"),
        ("errors", "Errors"),
        ("throttles", "Answers that slowed the host"),
        ("blocked", "Blocked pages"),
    ):
        family(
            f"host_{field}_total",
            "counter",
            f"{help_text} per host (the busiest, then other).",
            [({"host": h}, c[field]) for h, c in hosts.items()],
        )
    if stats.dns is not None:
        dns = stats.dns
        family("dns_lookups_total", "counter", "Names looked up (not answered by the cache).", [({}, dns.lookups)])
        family("dns_cached_total", "counter", "Names answered by the resolver's cache.", [({}, dns.cached)])
        family(
            "dns_failures_total",
            "counter",
            "Lookups that failed: the name does not exist, or no answer.",
            [({"kind": "not_found"}, dns.not_found), ({"kind": "failed"}, dns.failures)],
        )
        family("dns_seconds_total", "counter", "Seconds spent waiting for lookups.", [({}, round(dns.seconds, 6))])
    use = stats.identities or IdentityUse()
    family("identities_made_total", "counter", "Identities made (identities:).", [({}, use.made)])
    family(
        "identities_retired_total",
        "counter",
        "Identities retired, by reason: max_uses, banned, blocked, proxy.",
        [({"reason": k}, v) for k, v in use.retired.items()],
    )
    family(
        "logins_total",
        "counter",
        "Logins (login:), by outcome: ok, failed.",
        [({"outcome": "ok"}, use.logins), ({"outcome": "failed"}, use.login_failures)],
    )
    family("relogins_total", "counter", "Logins after a session expired (of the ok ones).", [({}, use.relogins)])
    used = list(proxies)
    for field in ("requests", "failures", "bans", "blocked"):
        family(
            f"proxy_{field}_total", "counter", f"Proxy {field}.", [({"proxy": p.id}, getattr(p, field)) for p in used]
        )
    return "\n".join(out) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class MetricsServer:
    """``GET /metrics`` on ``address`` (``host:port``) while the crawl runs."""

    def __init__(self, address: str, text: Callable[[], Awaitable[str]]) -> None:
        self.host, _, port = address.rpartition(":")
        self.port = int(port)
        self._text = text
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as e:  # a name that does not resolve, an address not ours, a port in use
            await self._runner.cleanup()
            raise ConfigError(f"--metrics {self.host}:{self.port}: cannot listen there ({e.strerror or e})") from None

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, _: web.Request) -> web.Response:
        return web.Response(
            text=await self._text(),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )
