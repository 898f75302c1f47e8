"""Ports for servers that a test starts in another process (redis-server, tinyproxy, microsocks,
pproxy, dnsmasq, the demo site, the metrics endpoint) and must name before that process binds
them, and for addresses where nobody may listen. (Servers in the tests' own process bind port 0
and keep it.)

A port the kernel hands out (bind to port 0, then close) is free only for a moment: another
process's next bind to port 0, or its next outgoing connection, may take it before the child binds
it. With the suite on two pytest-xdist workers, the other worker is such a process (a broad crawl
test opens thousands of connections a minute). So a port is picked here from below the ephemeral
range, which the kernel never hands out by itself, from this worker's own share of it (every
``count``-th port, from the worker's index on), so two workers never pick the same one; and it is
checked free before it is given.
"""

from __future__ import annotations

import os
import random
import socket

SPAN = 12_000  # ports below the ephemeral range to pick from


def ephemeral_low() -> int:
    """The first port the kernel hands to outgoing connections (Linux; 32768 elsewhere)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def share() -> range:
    """This worker's ports: below the ephemeral range, every ``count``-th one from its index."""
    low = ephemeral_low()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # set in each worker, absent in a run without xdist
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return range(max(1024, low - SPAN), low)[int(worker.removeprefix("gw")) % count :: count]


def free_port(*, udp: bool = False) -> int:
    """A port of this worker's share that is free for TCP (and for UDP too with ``udp``) now."""
    kinds = (socket.SOCK_STREAM, socket.SOCK_DGRAM) if udp else (socket.SOCK_STREAM,)
    ports = share()
    for port in random.sample(ports, min(200, len(ports))):
        try:
            for kind in kinds:
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no free port in {ports}")
