"""Shared fixtures (and only fixtures: what they use lives in ``tests/helpers``): real aiohttp
servers on 127.0.0.1, a real crawl into a temp directory, real proxies, a real redis-server, real
DNS servers, a test CA with an HTTP/2-only site and a TLS fingerprint (JA4) server.

``site`` is one server that plays many virtual hosts (``tests.helpers.site.Site``): tests register
handlers per (host, path) and reach the hosts by name through ``--resolve`` pins.

A server started in another process is given its port before it binds it: from
``tests.helpers.ports`` (pytest-asyncio's ``unused_tcp_port`` too), which the other pytest-xdist
worker cannot take meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from crawler.config import Job
from crawler.engine import Crawl
from tests.helpers.dns import DnsServer, Zone, default_zone, start_dns
from tests.helpers.output import Result
from tests.helpers.ports import free_port
from tests.helpers.site import Site
from tests.helpers.timing import record_grants

pytest_plugins = ["tests.helpers.requirements"]  # a full run stops at once, in one line, when a program is missing


@pytest.fixture
async def site() -> Any:
    s = Site()
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def hosts_site() -> Any:
    """A Site on 127.0.0.1, 127.0.0.2 and 127.0.0.3: three hosts a proxy can reach by address."""
    s = Site()
    await s.start(("127.0.0.1", "127.0.0.2", "127.0.0.3"))
    yield s
    await s.stop()


@pytest.fixture
def crawl(tmp_path: Path) -> Callable[..., Awaitable[Result]]:
    """``await crawl(start_urls=[...], **job_fields)`` runs a real crawl into a temp directory."""

    async def run(**fields: Any) -> Result:
        fields.setdefault("output", tmp_path / "out")
        fields.setdefault("retry_backoff", 0.01)
        job = Job.model_validate(fields)
        c = Crawl(job)
        grants = record_grants(c)
        stats = await c.run()
        return Result(stats, job.output_dir, c, grants)

    return run


@pytest.fixture
def unused_tcp_port() -> int:
    """A port nobody listens on, for a server the test starts in another process, or for none
    (pytest-asyncio's fixture, replaced): from below the ephemeral range, this worker's share
    (``tests.helpers.ports``), so the other worker cannot take it before the test's server binds it."""
    return free_port()


@pytest.fixture
async def proxies(tmp_path: Path) -> Any:
    """``await proxies(kind, n, user=..., password=...)`` starts n real proxies (``kind``: see
    ``tests.helpers.proxy_servers.start_proxy``), each connecting out from its own loopback
    address (127.0.0.10, .11, …); all die at teardown."""
    from tests.helpers.proxy_servers import ProxyServer, start_proxy

    started: list[ProxyServer] = []
    counter = iter(range(10, 250))

    async def start(kind: str, n: int = 1, **auth: Any) -> list[ProxyServer]:
        new = [await start_proxy(kind, f"127.0.0.{next(counter)}", tmp_path, **auth) for _ in range(n)]
        started.extend(new)
        return new

    yield start
    for p in started:
        p.kill()
        if p.proc:
            await p.proc.wait()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real redis-server for the session; ``redis_url`` gives each test an empty one."""
    from tests.helpers.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    if redis_server.proc is None:  # a test killed it
        redis_server.start()
    redis_server.client().flushall()
    return str(redis_server.url)


@pytest.fixture
def dns_zone() -> Any:
    """``dns_zone(Zone(...), prefer="dnsmasq")`` starts a real DNS server for the zone (dnsmasq when
    installed; ``prefer="own"``: ours, which counts queries); all close after the test."""
    started: list[DnsServer] = []

    def start(zone: Zone, *, prefer: str = "dnsmasq") -> DnsServer:
        server = start_dns(zone, prefer=prefer)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


@pytest.fixture
def dns_server(dns_zone: Callable[[Zone], DnsServer]) -> DnsServer:
    """A real DNS server (dnsmasq when installed) for ``default_zone()``: every name under
    crawl.test is 127.0.0.1, public.test a public address, private.test 10.0.0.7, dual.test both
    127.0.0.1 and ::1; TTL 60; every other name NXDOMAIN. ``.address`` is its "127.0.0.1:PORT"."""
    return dns_zone(default_zone())


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A test CA (trustme) and its certificate for 127.0.0.1, localhost, h2.test, h3.test and ja4.test:
    ``.bundle`` is the CA's PEM for clients, ``.server_context(alpn)`` serves the certificate."""
    from tests.helpers.tls_servers import make_ca

    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
async def h2_site(tls_ca: Any) -> Any:
    """An HTTP/2-only TLS site (``tests.helpers.tls_servers.H2Site``): tests fill ``.pages`` and read
    ``.requests`` and ``.connections``."""
    from tests.helpers.tls_servers import H2Site

    s = H2Site(tls_ca.leaf)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def h3_site(tls_ca: Any, tmp_path: Path) -> Any:
    """An HTTP/3-only site (QUIC, no TCP: ``tests.helpers.h3_server.H3Site``) as h3.test."""
    from tests.helpers.h3_server import H3Site

    s = H3Site(tls_ca.leaf, tmp_path)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def ja4_server(tls_ca: Any) -> Any:
    """A TLS server answering each connection's JA3/JA4 fingerprint as JSON (reach it as ja4.test
    through ``.pin()``)."""
    from tests.helpers.tls_servers import JA4Server

    s = JA4Server(tls_ca.leaf)
    await s.start()
    yield s
    await s.stop()
