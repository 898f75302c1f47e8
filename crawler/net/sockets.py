"""Sockets and files sized to the machine: the open-files budget and a connection pool whose
idle keep-alive sockets are bounded.

A broad crawl visits tens of thousands of hosts; aiohttp's connector bounds the connections in
use (``limit``) but keeps every idle one until its keep-alive ends, about one socket per host
visited in the last 15 s. Against a stock ``ulimit -n`` of 1024 that runs out of descriptors, and
every failure after that is this machine's, not the sites'. So the crawl raises its soft limit to
the hard one, keeps ``RESERVED`` descriptors for its own files, allows two per request in flight
(its socket and, for a large body, its temp file), and gives what is left to idle sockets, up
to four per request in flight: a socket is worth keeping for a host the crawl is on now, not for
the thousands it has finished with (each idle one also holds ~8 KB of the crawler's memory).
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from itertools import islice
from typing import Any

import aiohttp

RESERVED = 64  # state.sqlite and its WAL, records, items, WARC, lock, parser pipe, stdio, resolver
PER_REQUEST = 2  # its socket, and the temp file of a body too large to keep in memory
MAX_IDLE = 4096  # idle keep-alive sockets kept at most, however high the limit
IDLE_PER_REQUEST = 8  # and at most this many per request in flight: the hosts being crawled now


@dataclass(frozen=True, slots=True)
class Budget:
    """How many requests may be in flight and how many idle sockets may wait for reuse."""

    concurrency: int
    idle: int
    limit: int  # the soft RLIMIT_NOFILE in force
    lowered: str | None = None  # one line for the user when the limit forced lower concurrency


def fd_budget(concurrency: int) -> Budget:
    """Raise the soft open-files limit to the hard one where allowed, then split it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    limit = soft if soft != resource.RLIM_INFINITY else 1 << 20
    room = max(limit - RESERVED - _open_now(), PER_REQUEST)
    allowed = max(1, room // PER_REQUEST)
    lowered = None
    if concurrency > allowed:
        lowered = (
            f"the open-files limit ({limit}, ulimit -n) leaves room for {allowed} requests in flight: "
            f"running with concurrency {allowed} instead of {concurrency}"
        )
        concurrency = allowed
    idle = min(MAX_IDLE, IDLE_PER_REQUEST * concurrency, room - PER_REQUEST * concurrency)
    return Budget(concurrency, idle, limit, lowered)


def _open_now() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 16


class BoundedConnector(aiohttp.TCPConnector):
    """A TCPConnector that keeps at most ``max_idle`` hosts' idle keep-alive sockets (each host
    holds at most ``per_host`` of them), closing the hosts idle longest first; it counts the
    connections it hands out and how many of them it had to open.

    aiohttp keeps idle sockets per connection key in ``_conns``, in the order keys were added; a
    key leaves when its last socket is reused, so the first keys are the hosts idle longest.
    """

    def __init__(self, *, max_idle: int, per_host: int, **kw: Any) -> None:
        super().__init__(**kw)
        self._max_idle_hosts = max(1, max_idle // max(1, per_host))
        self.connects = 0  # connections handed to requests
        self.opened = 0  # of which new

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109 - aiohttp's signature
        self.connects += 1
        return await super().connect(req, traces, timeout)

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109
        self.opened += 1
        return await super()._create_connection(req, traces, timeout)

    def _release(self, key: Any, protocol: Any, *, should_close: bool = False) -> None:
        super()._release(key, protocol, should_close=should_close)
        conns = self._conns
        excess = len(conns) - self._max_idle_hosts
        if excess > 0:
            for old in list(islice(conns, excess)):
                for proto, _ in conns.pop(old):
                    transport = proto.transport
                    proto.close()
                    if old.is_ssl and not self._cleanup_closed_disabled and transport is not None:
                        self._cleanup_closed_transports.append(transport)
