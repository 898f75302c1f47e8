"""One HTTP exchange as a WARC archives it, whichever transport made it (aiohttp, curl, or
the browser for a rendered page's main document)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Exchange:
    """One request and its response, as the WARC records them: from a transport's wire
    (:meth:`crawler.net.wire.Wire.exchange`) or from the browser, for a rendered page's main document."""

    url: str
    method: str
    host: str  # the Host header, when the sent headers lack one
    target: str  # path and query as sent
    sent: list[tuple[str, str]]  # request headers
    status: int
    reason: str
    protocol: str  # e.g. HTTP/1.1
    headers: list[tuple[str, str]]  # response headers as received
