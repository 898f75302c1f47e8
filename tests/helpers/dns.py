"""Real DNS servers on loopback ports for the resolver tests (``--dns-server``).

``start_dns(zone)`` runs Debian's dnsmasq when it is installed (``.ci/run`` installs it: the server a
deployment would run), else a small UDP server of our own; ``prefer="own"`` forces the latter, which
also counts the queries it receives. Both answer a ``Zone`` alike (``tests/test_dns_servers.py``
holds both to one table):

- an exact name in ``answers``: its A and AAAA records; a type it has no address for is NODATA;
- a name equal to or under a ``wildcard`` domain: that domain's address (the most specific domain
  wins). An exact name blocks a wildcard for the names under it (NXDOMAIN), as in real DNS;
- a name above an exact one (``test`` when ``a.test`` is exact): NODATA;
- every other name: NXDOMAIN. Names match case-insensitively; every answer has the zone's TTL and
  no negative answer carries an SOA record.
"""

from __future__ import annotations

import ipaddress
import os
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Self, overload

from tests.helpers.ports import free_port

QTYPES = {"A": 1, "AAAA": 28}
TYPE_NAMES = {number: name for name, number in QTYPES.items()}
CLASS_IN = 1
NOERROR, FORMERR, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 3, 4, 5


@dataclass
class Zone:
    """What a test's DNS server knows. Names are lowercased without a trailing dot on creation."""

    answers: dict[str, list[str]]  # exact name -> IPv4 and/or IPv6 addresses (A / AAAA)
    wildcard: dict[str, str] = field(
        default_factory=dict
    )  # domain -> the IPv4 (or IPv6) address of it and every name under it
    ttl: int = 60  # of every answer

    def __post_init__(self) -> None:
        self.answers = {_norm(n): [str(ipaddress.ip_address(a)) for a in addrs] for n, addrs in self.answers.items()}
        self.wildcard = {_norm(d): str(ipaddress.ip_address(a)) for d, a in self.wildcard.items()}
        if both := self.answers.keys() & self.wildcard.keys():
            raise ValueError(f"names both exact and wildcard (the servers would differ): {sorted(both)}")
        if not 0 <= self.ttl < 2**31:
            raise ValueError(f"TTL out of range: {self.ttl}")

    def lookup(self, name: str) -> list[str] | None:
        """The addresses of ``name`` ([] when it exists without any), None when it does not exist."""
        labels = _norm(name).split(".")
        for i in range(len(labels)):
            suffix = ".".join(labels[i:])
            if suffix in self.answers:
                return list(self.answers[suffix]) if i == 0 else None
            if suffix in self.wildcard:
                return [self.wildcard[suffix]]
        below = "." + ".".join(labels)
        if any(n.endswith(below) for n in self.answers):
            return []  # an empty non-terminal (dnsmasq says so for exact names only)
        return None


def default_zone() -> Zone:
    """The ``dns_server`` fixture's zone: a wildcard for crawls, a public, a private and a dual-stack name."""
    return Zone(
        answers={"public.test": ["93.184.215.14"], "private.test": ["10.0.0.7"], "dual.test": ["127.0.0.1", "::1"]},
        wildcard={"crawl.test": "127.0.0.1"},
        ttl=60,
    )


class DnsServer:
    """A running DNS server on 127.0.0.1; a context manager that closes it."""

    kind: str  # "dnsmasq" or "own"

    def __init__(self, port: int) -> None:
        self.port = port
        self.address = f"127.0.0.1:{port}"  # what --dns-server and aiodns's nameservers take

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind} {self.address}>"


class OwnDnsServer(DnsServer):
    """Our own server: a thread answering UDP from ``zone`` (read per query, so a test may change it).

    ``queries`` counts the queries received per name (lowercased, every type), ``typed_queries`` per
    (name, type); both are counted before the answer is sent, so they are current once a client has
    its answer. ``silent = True`` makes it count queries and answer none (a server that went away).
    """

    kind = "own"

    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.queries: Counter[str] = Counter()
        self.typed_queries: Counter[tuple[str, str]] = Counter()
        self.silent = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._wake_r, self._wake_w = socket.socketpair()
        super().__init__(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name=f"dns-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock, self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                packet, peer = self._sock.recvfrom(4096)
            except OSError:
                continue
            try:
                reply = self._reply(packet)
            except (ValueError, IndexError, struct.error):
                continue  # not a DNS query we can read: dropped, as a real server would
            if reply is not None:
                self._sock.sendto(reply, peer)

    def _reply(self, packet: bytes) -> bytes | None:
        query = parse_query(packet)
        if query is None:
            return None
        if query.name is not None:
            self.queries[query.name] += 1
            self.typed_queries[query.name, TYPE_NAMES.get(query.qtype, str(query.qtype))] += 1
        return None if self.silent else build_reply(self.zone, query)

    def close(self) -> None:
        if self._wake_w.fileno() == -1:
            return
        self._wake_w.send(b"x")
        self._thread.join()
        for s in (self._sock, self._wake_r, self._wake_w):
            s.close()


class Dnsmasq(DnsServer):
    """Debian's dnsmasq serving a zone from its command line (no files, no upstream, no system service)."""

    kind = "dnsmasq"

    def __init__(self, port: int, proc: subprocess.Popen[bytes]) -> None:
        super().__init__(port)
        self.proc = proc

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def dnsmasq_binary() -> str | None:
    """dnsmasq on PATH or in /usr/sbin (Debian's dnsmasq-base puts it there, often off a user's PATH)."""
    return shutil.which("dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def dnsmasq_args(zone: Zone, port: int) -> list[str]:
    """The flags that make dnsmasq answer exactly as ``Zone.lookup`` says.

    ``--local`` for every served domain and name makes a type without an address NODATA (without it
    a wildcard's AAAA is NXDOMAIN) and keeps a wildcard off the names under an exact one;
    ``--address=/#/`` makes every other name NXDOMAIN (without it: REFUSED).
    """
    args = [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--pid-file=",
        f"--port={port}",
        "--listen-address=127.0.0.1",
        "--bind-interfaces",
        f"--local-ttl={zone.ttl}",
    ]
    for domain, addr in zone.wildcard.items():
        args += [f"--address=/{domain}/{addr}", f"--local=/{domain}/"]
    for name, addrs in zone.answers.items():
        args += [f"--host-record={name},{addr}" for addr in addrs] + [f"--local=/{name}/"]
    return [*args, "--address=/#/"]


def start_dnsmasq(zone: Zone, binary: str, attempts: int = 5) -> Dnsmasq:
    """dnsmasq on a free port, once it answers a query. A port taken between our pick and its bind
    (its TCP side, or another test) is retried on a new port, ``attempts`` times at most."""
    errors: list[str] = []
    for _ in range(attempts):
        port = free_dns_port()
        with tempfile.TemporaryFile() as stderr:
            proc = subprocess.Popen([binary, *dnsmasq_args(zone, port)], stdout=subprocess.DEVNULL, stderr=stderr)
            if _answers(port, proc):
                return Dnsmasq(port, proc)
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            stderr.seek(0)
            errors.append(stderr.read().decode(errors="replace").strip() or f"exit status {proc.returncode}")
        if "in use" not in errors[-1]:
            break
    raise RuntimeError(f"dnsmasq did not start: {errors}")


def _answers(port: int, proc: subprocess.Popen[bytes], within: float = 10.0) -> bool:
    """Whether dnsmasq answers a query on ``port`` before it exits or ``within`` seconds pass."""
    probe = build_query("ready.probe", "A", ident=0x5EED)
    deadline = time.monotonic() + within
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("127.0.0.1", port))
        s.settimeout(0.1)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                s.send(probe)
                if s.recv(4096)[:2] == probe[:2]:
                    return True
            except TimeoutError:
                continue  # sent before it listened, or a slow start on a busy machine: ask again
            except ConnectionRefusedError:  # not bound yet: wait on its exit for a moment
                try:
                    proc.wait(timeout=0.01)
                except subprocess.TimeoutExpired:
                    pass
    return False


@overload
def start_dns(zone: Zone, *, prefer: Literal["own"]) -> OwnDnsServer: ...
@overload
def start_dns(zone: Zone, *, prefer: str = "dnsmasq") -> DnsServer: ...
def start_dns(zone: Zone, *, prefer: str = "dnsmasq") -> DnsServer:
    """A running server for ``zone``: dnsmasq when installed, else our own; ``prefer="own"`` forces ours."""
    if prefer not in ("dnsmasq", "own"):
        raise ValueError(f"prefer is 'dnsmasq' or 'own', not {prefer!r}")
    binary = dnsmasq_binary() if prefer == "dnsmasq" else None
    return start_dnsmasq(zone, binary) if binary else OwnDnsServer(zone)


def silent_udp() -> tuple[socket.socket, str]:
    """A bound UDP socket on 127.0.0.1 that never answers (queries to it time out) and its address.
    The caller closes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s, f"127.0.0.1:{s.getsockname()[1]}"


def free_dns_port() -> int:
    """A port free for UDP and TCP both (dnsmasq binds both), from below the ephemeral range
    (``tests.helpers.ports``): a port in it may be the local end of an outgoing connection (a
    broad crawl test leaves thousands in TIME_WAIT), which a UDP bind does not see and dnsmasq's
    TCP bind does."""
    return free_port(udp=True)


# --- the wire format (RFC 1035), enough for A and AAAA over UDP ---


class Query(NamedTuple):
    ident: int
    flags: int
    name: str | None  # None when the packet has no single question
    qtype: int
    question: bytes  # as received, echoed in the reply


class Reply(NamedTuple):
    rcode: int
    answers: list[tuple[str, int]]  # (address, TTL) of the A and AAAA records
    authority: int  # how many authority records (an SOA in a negative answer)


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _encode_name(name: str) -> bytes:
    labels = [label.encode("ascii") for label in _norm(name).split(".") if label]
    return b"".join(bytes([len(label)]) + label for label in labels) + b"\0"


def _read_name(packet: bytes, pos: int) -> tuple[str, int]:
    """The name at ``pos`` and the position after it, following compression pointers."""
    labels: list[str] = []
    end = None
    for _ in range(128):  # bounded: a pointer loop in a malformed packet ends here
        length = packet[pos]
        if length >= 0xC0:
            end = pos + 2 if end is None else end
            pos = ((length & 0x3F) << 8) | packet[pos + 1]
            continue
        if length == 0:
            return ".".join(labels), pos + 1 if end is None else end
        labels.append(packet[pos + 1 : pos + 1 + length].decode("latin-1"))
        pos += 1 + length
    raise ValueError("name loops or is too long")


def build_query(name: str, qtype: str = "A", ident: int = 1) -> bytes:
    """One recursion-desired query for ``name``."""
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + _encode_name(name) + struct.pack("!HH", QTYPES[qtype], 1)


def parse_query(packet: bytes) -> Query | None:
    """The question of a query packet; None for a response."""
    ident, flags, qdcount = struct.unpack_from("!HHH", packet)
    if flags & 0x8000:
        return None
    if qdcount != 1 or (flags >> 11) & 0xF:
        return Query(ident, flags, None, 0, b"")
    name, pos = _read_name(packet, 12)
    qtype, _ = struct.unpack_from("!HH", packet, pos)
    return Query(ident, flags, _norm(name), qtype, packet[12 : pos + 4])


def build_reply(zone: Zone, query: Query) -> bytes:
    """The authoritative answer of ``zone`` to ``query`` (see the module's docstring)."""
    if query.name is None:
        rcode = NOTIMP if (query.flags >> 11) & 0xF else FORMERR
        return struct.pack("!HHHHHH", query.ident, 0x8400 | (query.flags & 0x7900) | rcode, 0, 0, 0, 0)
    addrs = zone.lookup(query.name)
    family = {1: 4, 28: 6}.get(query.qtype)
    records = [ipaddress.ip_address(a) for a in addrs or ()]
    answer = b"".join(
        struct.pack("!HHHIH", 0xC00C, query.qtype, CLASS_IN, zone.ttl, len(ip.packed)) + ip.packed
        for ip in records
        if ip.version == family
    )
    count = sum(ip.version == family for ip in records)
    flags = 0x8400 | (query.flags & 0x0100) | (NXDOMAIN if addrs is None else NOERROR)  # QR, AA, RD as asked
    return struct.pack("!HHHHHH", query.ident, flags, 1, count, 0, 0) + query.question + answer


def query(address: str, name: str, qtype: str = "A", timeout: float = 5.0) -> Reply:
    """Ask ``address`` ("HOST:PORT") once over UDP: what the server itself says, without a
    resolver's cache, retries or search domains."""
    host, port = address.rsplit(":", 1)
    packet = build_query(name, qtype, ident=int.from_bytes(os.urandom(2), "big"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((host, int(port)))
        s.send(packet)
        while True:
            data = s.recv(65535)
            if data[:2] == packet[:2]:
                break
    _, flags, qdcount, ancount, nscount, _ = struct.unpack_from("!HHHHHH", data)
    pos = 12
    for _ in range(qdcount):
        pos = _read_name(data, pos)[1] + 4
    answers = []
    for _ in range(ancount):
        pos = _read_name(data, pos)[1]
        rtype, _, ttl, length = struct.unpack_from("!HHIH", data, pos)
        pos += 10
        if rtype in TYPE_NAMES:
            answers.append((str(ipaddress.ip_address(data[pos : pos + length])), ttl))
        pos += length
    return Reply(flags & 0xF, answers, nscount)
