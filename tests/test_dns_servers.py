"""The DNS servers the resolver tests run (``tests/helpers/dns.py``): dnsmasq and our own answer a
zone alike, as c-ares (aiodns) reads them: addresses, TTLs, AAAA, NODATA and NXDOMAIN; a silent
socket times a query out. And the ports the tests' servers in other processes get
(``tests/helpers/ports.py``)."""

from __future__ import annotations

import socket

import aiodns
import pytest
from aiodns.error import ARES_ENODATA, ARES_ENOTFOUND, ARES_ETIMEOUT, DNSError

from tests.helpers import dns, ports
from tests.helpers.dns import NOERROR, NXDOMAIN, Zone, default_zone, query, silent_udp, start_dns


@pytest.fixture(params=["dnsmasq", "own"])
def kind(request: pytest.FixtureRequest) -> str:
    if request.param == "dnsmasq" and dns.dnsmasq_binary() is None:
        pytest.skip("dnsmasq is not installed (.ci/run installs dnsmasq-base)")
    return str(request.param)


async def ask(address: str, name: str, qtype: str = "A") -> list[tuple[str, int]]:
    """(address, TTL) of each record aiodns reads from the server at ``address``."""
    async with aiodns.DNSResolver(nameservers=[address], timeout=5, tries=2) as resolver:
        result = await resolver.query_dns(name, qtype)
    return sorted((record.data.addr, record.ttl) for record in result.answer)


async def ask_error(address: str, name: str, qtype: str = "A", **options: float) -> int:
    """The c-ares error code of a query that fails."""
    options = {"timeout": 5, "tries": 2, **options}
    async with aiodns.DNSResolver(nameservers=[address], **options) as resolver:
        with pytest.raises(DNSError) as failed:
            await resolver.query_dns(name, qtype)
    return int(failed.value.args[0])


async def test_the_default_zone_through_aiodns(dns_zone, kind):
    server = dns_zone(default_zone(), prefer=kind)
    assert server.kind == kind and server.address == f"127.0.0.1:{server.port}"
    for name in ("a.crawl.test", "www.a.crawl.test", "crawl.test", "A.Crawl.Test"):
        assert await ask(server.address, name) == [("127.0.0.1", 60)], name
    assert await ask(server.address, "public.test") == [("93.184.215.14", 60)]
    assert await ask(server.address, "private.test") == [("10.0.0.7", 60)]
    assert await ask(server.address, "dual.test") == [("127.0.0.1", 60)]
    assert await ask(server.address, "dual.test", "AAAA") == [("::1", 60)]
    for name in ("nope.test", "other.example", "x.public.test"):
        assert await ask_error(server.address, name) == ARES_ENOTFOUND, name
        assert await ask_error(server.address, name, "AAAA") == ARES_ENOTFOUND, name
    assert await ask_error(server.address, "public.test", "AAAA") == ARES_ENODATA  # the name exists
    assert await ask_error(server.address, "a.crawl.test", "AAAA") == ARES_ENODATA


async def test_ttls_and_several_addresses(dns_zone, kind):
    zone = Zone(answers={"many.test": ["10.0.0.2", "10.0.0.1", "::2", "fe80::1"]}, wildcard={"six.test": "::5"}, ttl=7)
    server = dns_zone(zone, prefer=kind)
    assert await ask(server.address, "many.test") == [("10.0.0.1", 7), ("10.0.0.2", 7)]
    assert await ask(server.address, "many.test", "AAAA") == [("::2", 7), ("fe80::1", 7)]
    assert await ask(server.address, "a.six.test", "AAAA") == [("::5", 7)]
    assert await ask_error(server.address, "a.six.test") == ARES_ENODATA


SPEC_ZONE = Zone(
    answers={"exact.test": ["10.0.0.1"], "v6.wild.test": ["::1"], "leaf.deep.wild.org": ["10.0.0.3"]},
    wildcard={"wild.test": "127.0.0.2", "deep.wild.org": "127.0.0.3"},
    ttl=30,
)
SPEC = [  # name, type, rcode, addresses: what both servers say, straight from the wire
    ("exact.test", "A", NOERROR, ["10.0.0.1"]),
    ("EXACT.test.", "A", NOERROR, ["10.0.0.1"]),
    ("exact.test", "AAAA", NOERROR, []),
    ("x.exact.test", "A", NXDOMAIN, []),  # exact names have no names under them
    ("test", "A", NOERROR, []),  # above an exact name: an empty non-terminal
    ("wild.test", "A", NOERROR, ["127.0.0.2"]),
    ("a.b.wild.test", "A", NOERROR, ["127.0.0.2"]),
    ("a.b.wild.test", "AAAA", NOERROR, []),
    ("v6.wild.test", "AAAA", NOERROR, ["::1"]),  # an exact name overrides the wildcard...
    ("v6.wild.test", "A", NOERROR, []),
    ("x.v6.wild.test", "A", NXDOMAIN, []),  # ...and blocks it under itself
    ("z.deep.wild.org", "A", NOERROR, ["127.0.0.3"]),
    ("wild.org", "A", NOERROR, []),  # above leaf.deep.wild.org
    ("org", "A", NOERROR, []),
    ("example", "A", NXDOMAIN, []),
    ("nope.test", "AAAA", NXDOMAIN, []),
]


async def test_both_servers_answer_the_zone_as_documented(dns_zone, kind):
    server = dns_zone(SPEC_ZONE, prefer=kind)
    for name, qtype, rcode, addresses in SPEC:
        reply = query(server.address, name, qtype)
        assert (reply.rcode, sorted(a for a, _ in reply.answers)) == (rcode, addresses), (name, qtype)
        assert all(ttl == 30 for _, ttl in reply.answers) and reply.authority == 0, (name, qtype)
        assert (SPEC_ZONE.lookup(name) is None) == (rcode == NXDOMAIN), name


async def test_a_silent_socket_times_a_query_out():
    sock, address = silent_udp()
    with sock:
        assert address == f"127.0.0.1:{sock.getsockname()[1]}"
        assert await ask_error(address, "a.crawl.test", timeout=0.2, tries=1) == ARES_ETIMEOUT


async def test_the_own_server_counts_queries_and_can_go_silent():
    with start_dns(Zone(answers={"x.test": ["10.0.0.1"]}), prefer="own") as server:
        assert await ask(server.address, "X.Test") == [("10.0.0.1", 60)]
        await ask_error(server.address, "x.test", "AAAA")
        assert server.queries == {"x.test": 2}
        assert server.typed_queries == {("x.test", "A"): 1, ("x.test", "AAAA"): 1}
        server.silent = True
        assert await ask_error(server.address, "gone.test", timeout=0.2, tries=1) == ARES_ETIMEOUT
        server.silent = False
        assert query(server.address, "x.test").rcode == NOERROR  # answered in order: gone.test was counted
        assert server.queries["gone.test"] == 1


def test_the_own_server_reads_its_zone_per_query_and_closes():
    server = start_dns(Zone(answers={"x.test": ["10.0.0.1"]}, ttl=5), prefer="own")
    assert query(server.address, "x.test").answers == [("10.0.0.1", 5)]
    server.zone.answers["x.test"] = ["10.0.0.2"]
    server.zone = Zone(answers=server.zone.answers, ttl=1)
    assert query(server.address, "x.test").answers == [("10.0.0.2", 1)]
    server.close()
    server.close()  # twice is harmless
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", server.port))  # the port is free again


def test_dnsmasq_gets_a_new_port_when_its_port_is_taken(monkeypatch):
    binary = dns.dnsmasq_binary()
    if binary is None:
        pytest.skip("dnsmasq is not installed (.ci/run installs dnsmasq-base)")
    taken, _ = silent_udp()
    ports = iter([taken.getsockname()[1]])
    free = dns.free_dns_port
    monkeypatch.setattr(dns, "free_dns_port", lambda: next(ports, None) or free())
    with taken, start_dns(default_zone()) as server:
        assert isinstance(server, dns.Dnsmasq) and server.port != taken.getsockname()[1]
        assert query(server.address, "a.crawl.test").answers == [("127.0.0.1", 60)]
    assert server.proc.returncode is not None


def test_each_worker_picks_ports_of_its_own_that_the_kernel_never_hands_out(monkeypatch):
    """With the suite on pytest-xdist workers, two workers never pick the same port, and no port
    they pick can be taken by a bind to port 0 or an outgoing connection meanwhile."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    shares = []
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        shares.append(set(ports.share()))
        port = ports.free_port(udp=True)
        assert port in shares[-1]
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with socket.socket(socket.AF_INET, kind) as s:
                s.bind(("127.0.0.1", port))
    assert len(shares[0]) > 5000 and not shares[0] & shares[1]
    assert max(shares[0] | shares[1]) < ports.ephemeral_low()
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT")
    assert set(ports.share()) == shares[0] | shares[1]  # a run without workers: all of them


def test_dnsmasq_that_cannot_start_says_why(monkeypatch):
    binary = dns.dnsmasq_binary()
    if binary is None:
        pytest.skip("dnsmasq is not installed (.ci/run installs dnsmasq-base)")
    monkeypatch.setattr(dns, "dnsmasq_args", lambda zone, port: ["--no-such-flag"])
    with pytest.raises(RuntimeError, match=r"\[.dnsmasq: bad command line options[^,]*\]"):  # once: not a port clash
        dns.start_dnsmasq(default_zone(), binary)


def test_without_dnsmasq_start_dns_runs_its_own(monkeypatch):
    monkeypatch.setattr(dns, "dnsmasq_binary", lambda: None)
    with start_dns(default_zone()) as server:
        assert server.kind == "own"
        assert query(server.address, "dual.test", "AAAA").answers == [("::1", 60)]


def test_the_dns_server_fixture_serves_the_default_zone(dns_server):
    assert dns_server.kind == ("dnsmasq" if dns.dnsmasq_binary() else "own")
    assert query(dns_server.address, "public.test").answers == [("93.184.215.14", 60)]


def test_zones_refuse_what_the_servers_would_disagree_on():
    with pytest.raises(ValueError):
        Zone(answers={"a.test": ["not an address"]})
    with pytest.raises(ValueError, match="both exact and wildcard"):
        Zone(answers={"crawl.test": ["::1"]}, wildcard={"Crawl.Test.": "127.0.0.1"})
    with pytest.raises(ValueError, match="prefer"):
        start_dns(default_zone(), prefer="bind")
