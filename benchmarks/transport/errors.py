"""Q4b: curl error codes for the failures the crawler classifies, and a proposed mapping onto
``crawler.core.errors.Kind`` (what ``crawler/net/failures.py`` does for aiohttp).

Run: python benchmarks/transport/errors.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import gzip

from curl_cffi import CurlECode
from curl_cffi.requests import AsyncSession

from benchmarks.transport.tlsutil import make_ca, server_context
from crawler.core.errors import FetchError, Kind
from tests.helpers.proxy_servers import free_port

# code → (kind, retryable); through a proxy, connect/timeout/aborted/dns become the proxy's fault as in Fetcher._blame
CURL_KINDS: dict[int, tuple[Kind, bool]] = {
    CurlECode.UNSUPPORTED_PROTOCOL: (
        Kind.PROTOCOL,
        False,
    ),  # URLs are checked before; seen for an HTTP/0.9 (non-HTTP) reply
    CurlECode.URL_MALFORMAT: (Kind.INVALID_URL, False),
    CurlECode.COULDNT_RESOLVE_PROXY: (Kind.PROXY, True),
    CurlECode.COULDNT_RESOLVE_HOST: (Kind.DNS, True),  # NXDOMAIN vs SERVFAIL: only our own resolver tells them apart
    CurlECode.COULDNT_CONNECT: (Kind.CONNECT, True),  # via a proxy: PROXY (HTTP_CONNECTCODE != 0: CONNECT refused)
    CurlECode.WEIRD_SERVER_REPLY: (Kind.PROTOCOL, False),
    CurlECode.HTTP2: (Kind.PROTOCOL, True),
    CurlECode.PARTIAL_FILE: (Kind.ABORTED, True),
    CurlECode.WRITE_ERROR: (
        Kind.TOO_LARGE,
        False,
    ),  # only our write callback aborts: the cap (or STORAGE if our write failed)
    CurlECode.OUT_OF_MEMORY: (Kind.LOCAL, True),  # but 27 also comes with "URL rejected" (see classify_curl)
    CurlECode.OPERATION_TIMEDOUT: (Kind.TIMEOUT, True),
    CurlECode.SSL_CONNECT_ERROR: (Kind.TLS, False),
    CurlECode.TOO_MANY_REDIRECTS: (Kind.REDIRECT, False),
    CurlECode.GOT_NOTHING: (Kind.ABORTED, True),
    CurlECode.SEND_ERROR: (Kind.ABORTED, True),
    CurlECode.RECV_ERROR: (Kind.ABORTED, True),
    CurlECode.SSL_CERTPROBLEM: (Kind.TLS, False),
    CurlECode.SSL_CIPHER: (Kind.TLS, False),
    CurlECode.PEER_FAILED_VERIFICATION: (Kind.TLS, False),
    CurlECode.BAD_CONTENT_ENCODING: (Kind.DECODE, False),
    CurlECode.SSL_CACERT_BADFILE: (Kind.TLS, False),
    CurlECode.HTTP2_STREAM: (Kind.PROTOCOL, True),
    CurlECode.HTTP3: (Kind.PROTOCOL, True),
    CurlECode.QUIC_CONNECT_ERROR: (Kind.CONNECT, True),
    CurlECode.PROXY: (Kind.PROXY, True),  # CURLINFO_PROXY_ERROR 33 (USER_REJECTED): credentials → disable the proxy
}


def classify_curl(exc: BaseException, proxy: bool = False) -> FetchError:
    code = int(getattr(exc, "code", 0) or 0)
    kind, retry = CURL_KINDS.get(code, (Kind.PROTOCOL, False))
    if code == CurlECode.OUT_OF_MEMORY and "URL rejected" in str(exc):
        kind, retry = Kind.INVALID_URL, False
    if proxy and code == CurlECode.COULDNT_CONNECT:
        kind = Kind.PROXY
    return FetchError(
        kind,
        f"curl {code}: {str(exc).split(' See https')[0]}",
        retryable=retry,
        proxy_fault=proxy and kind in (Kind.PROXY, Kind.CONNECT, Kind.TIMEOUT, Kind.ABORTED, Kind.DNS),
    )


async def raw_server(reply: bytes | None, wait: bool = True) -> int:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if wait:
                await reader.readuntil(b"\r\n\r\n")
            if reply is None:
                await asyncio.sleep(30)  # never answers
            writer.write(reply)
            await writer.drain()
        except BaseException:
            pass
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv.sockets[0].getsockname()[1]


async def main() -> None:
    _, leaf, _ = make_ca()
    ok_tls = await asyncio.get_running_loop().create_server(
        asyncio.Protocol, "127.0.0.1", 0, ssl=server_context(leaf, ["http/1.1"])
    )
    tls_port = ok_tls.sockets[0].getsockname()[1]
    replies: dict[str, bytes | None] = {
        "no answer (read timeout 2 s)": None,
        "closed without a reply": b"",
        "not HTTP": b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(100),
        "body cut short (CL 1000, 10 sent)": b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789",
        "bad gzip": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + bytes(range(20)),
        "good gzip (control)": b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
        % len(gzip.compress(b"hi"))
        + gzip.compress(b"hi"),
        "TLS to a plain HTTP port": b"HTTP/1.1 400 Bad\r\n\r\n",
    }
    cases = {"DNS: no such name": "http://nosuch.invalid/", "connect refused": f"http://127.0.0.1:{free_port()}/"}
    for label, reply in replies.items():
        scheme = "https" if label.startswith("TLS") else "http"
        cases[label] = f"{scheme}://127.0.0.1:{await raw_server(reply, wait=scheme == 'http')}/"
    cases["TLS cert of an unknown CA"] = f"https://127.0.0.1:{tls_port}/"
    cases["invalid URL"] = "http://exa mple.com:99999/"
    async with AsyncSession(impersonate="chrome", timeout=2) as s:  # default CA bundle: the test CA is unknown
        for label, url in cases.items():
            try:
                r = await s.get(url)
                print(f"{label:36} OK {r.status_code} {r.content[:20]!r}")
            except Exception as e:
                fe = classify_curl(e)
                print(
                    f"{label:36} {type(e).__name__:24} code={int(e.code):3} → kind={fe.kind.value:11} "
                    f"retryable={fe.retryable} | {fe.message[:90]}"
                )
    ok_tls.close()


if __name__ == "__main__":
    asyncio.run(main())
