"""``--resolve HOST:PORT:ADDR``: pin host names to addresses without touching DNS (curl's syntax)."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver


class PinnedResolver(AbstractResolver):
    """Answers pinned (host, port) pairs itself and asks the default resolver for the rest."""

    def __init__(self, pins: dict[tuple[str, int], str]) -> None:
        self._pins = pins
        self._fallback = DefaultResolver()

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        addr = self._pins.get((host.lower().rstrip("."), port))
        if addr is None:
            return await self._fallback.resolve(host, port, family)
        ip = ipaddress.ip_address(addr)
        fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        return [ResolveResult(hostname=host, host=str(ip), port=port, family=fam,
                              proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        await self._fallback.close()

