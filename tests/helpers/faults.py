"""A fault-injection HTTP server on 127.0.0.1: each path misbehaves in one way a real server does.

It speaks raw HTTP/1.1 over asyncio streams, so it can lie about lengths, cut connections, stall,
drip, and send malformed or hostile responses that a well-behaved framework would refuse to send.
Every behaviour ends by itself (stalls are bounded), and the server only listens on loopback.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import Awaitable, Callable
from email.utils import formatdate

Writer = asyncio.StreamWriter
Behaviour = Callable[[Writer, dict], Awaitable[None]]
MAX_STALL = 10.0  # no behaviour holds a connection longer than this


def head(status: str, headers: dict[str, str] | None = None, version: str = "HTTP/1.1") -> bytes:
    lines = [f"{version} {status}"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def html(body: bytes | str, extra: dict[str, str] | None = None, status: str = "200 OK") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return head(status, {"Content-Type": "text/html", "Content-Length": str(len(data)), **(extra or {})}) + data


async def reply(w: Writer, data: bytes) -> None:
    w.write(data)
    await w.drain()


async def reset_before_headers(w: Writer, _: dict) -> None:
    w.transport.abort()


async def reset_after_headers(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"Content-Type": "text/html", "Content-Length": "5000"}) + b"<html>")
    w.transport.abort()


async def stall_before_headers(w: Writer, _: dict) -> None:
    await asyncio.sleep(MAX_STALL)


async def slow_drip(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"Content-Type": "text/html", "Content-Length": "1000"}))
    for _ in range(200):
        await reply(w, b"x")
        await asyncio.sleep(0.05)


async def length_lies_high(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"Content-Type": "text/html", "Content-Length": "10000"}) + b"short")
    w.close()


async def length_lies_low(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"Content-Type": "text/plain", "Content-Length": "10"}) + b"0123456789EXTRA-BYTES")


def encoded(encoding: str, payload: bytes) -> Behaviour:
    async def behaviour(w: Writer, _: dict) -> None:
        await reply(w, html(payload, {"Content-Encoding": encoding}))

    return behaviour


async def gzip_bomb(w: Writer, _: dict) -> None:
    await reply(w, html(BOMB, {"Content-Encoding": "gzip"}))


def redirect(to: str, status: str = "302 Found") -> Behaviour:
    async def behaviour(w: Writer, req: dict) -> None:
        target = to.replace("{n}", str(int(req["query"].get("n", "0")) + 1))
        await reply(w, head(status, {"Location": target, "Content-Length": "0"}))

    return behaviour


def fails_then_ok(status: str, failures: int = 2) -> Behaviour:
    async def behaviour(w: Writer, req: dict) -> None:
        if req["hits"] <= failures:
            await reply(w, head(status, {"Content-Length": "0"}))
        else:
            await reply(w, html("<title>recovered</title>"))

    return behaviour


def rate_limited(retry_after: str) -> Behaviour:
    async def behaviour(w: Writer, req: dict) -> None:
        if req["hits"] == 1:
            await reply(w, head("429 Too Many Requests", {"Retry-After": retry_after, "Content-Length": "0"}))
        else:
            await reply(w, html("<title>after 429</title>"))

    return behaviour


async def link_trap(w: Writer, req: dict) -> None:
    n = int(req["path"].rsplit("/", 1)[1] or 0)
    await reply(w, html(f'<a href="/trap/{n + 1}">next day</a><a href="/trap/{n + 1}?session={n}">again</a>'))


async def many_links(w: Writer, _: dict) -> None:
    await reply(w, html("".join(f'<a href="/leaf/{i}">{i}</a>' for i in range(50_000))))


async def leaf(w: Writer, _: dict) -> None:
    await reply(w, html("leaf"))


async def binary_as_html(w: Writer, _: dict) -> None:
    await reply(w, html(bytes(range(256)) * 64))


async def wrong_charset(w: Writer, _: dict) -> None:
    body = "<title>Café société</title><a href='/leaf/ü'>x</a>".encode("latin-1")
    await reply(w, html(body, {"Content-Type": "text/html; charset=utf-8"}))


async def missing_charset(w: Writer, _: dict) -> None:
    body = "<meta charset=windows-1252><title>Naïve</title>".encode("cp1252")
    await reply(w, head("200 OK", {"Content-Type": "text/html", "Content-Length": str(len(body))}) + body)


async def bad_bytes_links(w: Writer, _: dict) -> None:
    await reply(
        w,
        html(b'<a href="/leaf/caf\xe9">latin-1</a><a href="/leaf/%FF%00">escaped</a><a href="/leaf/\xff\xfe">raw</a>'),
    )


async def http10_no_length(w: Writer, _: dict) -> None:
    await reply(
        w, head("200 OK", {"Content-Type": "text/html"}, version="HTTP/1.0") + b"<title>old</title>" + b"z" * 5000
    )
    w.close()


async def empty_200(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"Content-Type": "text/html", "Content-Length": "0"}))


async def long_header(w: Writer, _: dict) -> None:
    await reply(w, head("200 OK", {"X-Huge": "h" * 20_000, "Content-Length": "2"}) + b"ok")


SOAK_HOSTS = 50
SOAK_FAULTS = [
    "/reset-before-headers",
    "/reset-after-headers",
    "/stall",
    "/length-high",
    "/length-low",
    "/bad-gzip",
    "/bomb",
    "/loop",
    "/to-file",
    "/to-elsewhere",
    "/503",
    "/429-seconds",
    "/binary",
    "/wrong-charset",
    "/http10",
    "/empty",
    "/long-header",
    "/missing",
]


async def soak_page(w: Writer, req: dict) -> None:
    """A page of the soak graph: links to pages on other hosts, plus one misbehaving URL."""
    n = int(req["path"].rsplit("/", 1)[1] or 0)
    port = req["port"]
    links = [f"http://h{(n + k) % SOAK_HOSTS}.soak.test:{port}/page/{(n * 7 + k) % 1_000_000}" for k in range(1, 9)]
    links.append(f"{SOAK_FAULTS[n % len(SOAK_FAULTS)]}?from={n}")
    await reply(w, html("".join(f'<a href="{u}">{i}</a>' for i, u in enumerate(links)) + "x" * (n % 7000)))


async def ok(w: Writer, _: dict) -> None:
    await reply(w, html("<title>fine</title>"))


BOMB = gzip.compress(b"\0" * 30_000_000)
BEHAVIOURS: dict[str, Behaviour] = {
    "/ok": ok,
    "/reset-before-headers": reset_before_headers,
    "/reset-after-headers": reset_after_headers,
    "/stall": stall_before_headers,
    "/drip": slow_drip,
    "/length-high": length_lies_high,
    "/length-low": length_lies_low,
    "/bad-gzip": encoded("gzip", b"this is not gzip at all"),
    "/bad-deflate": encoded("deflate", b"\x78\x9c" + b"not deflate"),
    "/bad-br": encoded("br", b"\xff\xff\xff not brotli"),
    "/good-deflate": encoded("deflate", zlib.compress(b"<title>deflated</title>")),
    "/bomb": gzip_bomb,
    "/loop": redirect("/loop?n={n}"),
    "/to-file": redirect("file:///etc/passwd"),
    "/to-data": redirect("data:text/html,<script>alert(1)</script>"),
    "/to-ftp": redirect("ftp://127.0.0.1/pub/"),
    "/to-elsewhere": redirect("http://elsewhere.invalid/"),
    "/500": fails_then_ok("500 Internal Server Error"),
    "/502": fails_then_ok("502 Bad Gateway"),
    "/503": fails_then_ok("503 Service Unavailable"),
    "/504": fails_then_ok("504 Gateway Timeout"),
    "/429-seconds": rate_limited("1"),
    "/429-date": rate_limited(formatdate(usegmt=True)),
    "/many-links": many_links,
    "/binary": binary_as_html,
    "/wrong-charset": wrong_charset,
    "/missing-charset": missing_charset,
    "/bad-bytes": bad_bytes_links,
    "/http10": http10_no_length,
    "/empty": empty_200,
    "/long-header": long_header,
}


class FaultServer:
    """Raw HTTP server; ``hits`` counts requests per path (query excluded)."""

    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.port = 0
        self._server: asyncio.Server | None = None

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            while True:
                request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MAX_STALL)
                target = request.split(b" ", 2)[1].decode("latin-1")
                path, _, query = target.partition("?")
                self.hits[path] = self.hits.get(path, 0) + 1
                req = {
                    "path": path,
                    "hits": self.hits[path],
                    "port": self.port,
                    "query": dict(p.partition("=")[::2] for p in query.split("&") if p),
                }
                behaviour = BEHAVIOURS.get(path) or (
                    link_trap
                    if path.startswith("/trap/")
                    else leaf
                    if path.startswith("/leaf/")
                    else soak_page
                    if path.startswith("/page/")
                    else None
                )
                if behaviour is None:
                    await reply(writer, head("404 Not Found", {"Content-Length": "0"}))
                else:
                    await asyncio.wait_for(behaviour(writer, req), MAX_STALL + 1)
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:  # the server is shutting down mid-stall: nothing to report
            pass
        finally:
            writer.close()
