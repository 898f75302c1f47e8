"""One HTTP exchange as a WARC archives it, whichever transport made it (the aiohttp fetcher, or
the browser for a rendered page's main document)."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp


@dataclass(slots=True)
class Exchange:
    """One request and its response, as the WARC records them: from the HTTP fetcher
    (:meth:`of`) or from the browser, for a rendered page's main document."""

    url: str
    method: str
    host: str  # the Host header, when the sent headers lack one
    target: str  # path and query as sent
    sent: list[tuple[str, str]]  # request headers
    status: int
    reason: str
    protocol: str  # e.g. HTTP/1.1
    headers: list[tuple[str, str]]  # response headers as received

    @classmethod
    def of(cls, resp: aiohttp.ClientResponse) -> Exchange:
        info = resp.request_info
        version = f"HTTP/{resp.version.major}.{resp.version.minor}" if resp.version else "HTTP/1.1"
        return cls(
            str(resp.url),
            info.method,
            info.url.raw_host or "",
            info.url.raw_path_qs or "/",
            list(info.headers.items()),
            resp.status,
            resp.reason or "",
            version,
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers],
        )
