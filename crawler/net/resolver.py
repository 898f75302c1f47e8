"""Name resolution for the crawl: ``--resolve HOST:PORT:ADDR`` pins (curl's syntax) and the
``--block-private-ips`` guard, which refuses private, loopback, link-local and other non-global
addresses *after* resolution, so a public name that resolves (or re-resolves) to an internal
address is refused too."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class BlockedAddress(OSError):
    """A host resolved only to addresses the job refuses (``block_private_ips``)."""


def is_blocked(address: str) -> bool:
    """True for any address that is not globally routable (private, loopback, link-local, …)."""
    return not ipaddress.ip_address(address.split("%")[0]).is_global


class CrawlResolver(AbstractResolver):
    """Answers pinned (host, port) pairs itself, asks the default resolver for the rest, and
    drops non-global addresses when ``block_private`` is set."""

    def __init__(self, pins: dict[tuple[str, int], str], block_private: bool = False) -> None:
        self._pins = pins
        self._block = block_private
        self._fallback = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addr = self._pins.get((host.lower().rstrip("."), port))
        if addr is None:
            results = await self._fallback.resolve(host, port, family)
        else:
            ip = ipaddress.ip_address(addr)
            fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
            results = [
                ResolveResult(hostname=host, host=str(ip), port=port, family=fam, proto=0, flags=socket.AI_NUMERICHOST)
            ]
        if self._block:
            allowed = [r for r in results if not is_blocked(r["host"])]
            if not allowed:
                shown = ", ".join(r["host"] for r in results)
                raise BlockedAddress(f"{host} resolves only to non-public addresses ({shown})")
            return allowed
        return results

    async def close(self) -> None:
        await self._fallback.close()
