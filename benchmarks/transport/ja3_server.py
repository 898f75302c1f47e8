"""Q3: a TLS server that reads the ClientHello from the raw socket, computes JA3 and JA4, completes
the handshake (ssl.MemoryBIO, fed the same bytes) and answers the fingerprint as JSON over HTTP/1.1.
The parser and the fingerprints moved to ``tests/helpers/client_hello.py`` (the tests' JA4 server).

Run: python benchmarks/transport/ja3_server.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import json
import socket
import ssl
import struct
import threading

import aiohttp
from curl_cffi import CurlOpt
from curl_cffi.requests import AsyncSession, BrowserType

from benchmarks.transport.tlsutil import make_ca, server_context
from tests.helpers.client_hello import fingerprint  # the ClientHello parser, JA3 and JA4 (FoxIO)


def _recv_hello(sock: socket.socket) -> bytes:
    data = b""
    while True:
        while len(data) < 5:
            data += sock.recv(65536) or b"!"  # '!' ends a closed connection in an assert below
        n = struct.unpack("!H", data[3:5])[0]
        while len(data) < 5 + n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the ClientHello")
            data += chunk
        hs_len = int.from_bytes(data[6:9], "big")  # a ClientHello spanning records: keep reading
        if 4 + hs_len <= n or len(data) >= 5 + 4 + hs_len + 5 * ((4 + hs_len) // 16384 + 1):
            return data


def serve_one(conn: socket.socket, ctx: ssl.SSLContext) -> None:
    with conn:
        conn.settimeout(10)
        raw = _recv_hello(conn)
        seen = fingerprint(raw)
        info = {
            "ja3": seen.ja3_string,
            "ja3_hash": seen.ja3,
            "ja4": seen.ja4,
            "alpn_offered": seen.alpn,
            "sni": seen.sni,
        }
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = ctx.wrap_bio(inc, out, server_side=True)
        inc.write(raw)

        def pump(op):
            while True:
                try:
                    return op()
                except ssl.SSLWantReadError:
                    if out.pending:
                        conn.sendall(out.read())
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed") from None
                    inc.write(chunk)

        pump(tls.do_handshake)
        info["alpn_selected"] = tls.selected_alpn_protocol()
        info["tls_version"] = tls.version()
        req = b""
        while b"\r\n\r\n" not in req:
            req += pump(lambda: tls.read(65536))
        body = json.dumps(info).encode()
        tls.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        conn.sendall(out.read())


def start_server(leaf) -> int:
    ctx = server_context(leaf, ["http/1.1"])  # HTTP/1.1 answers for everyone; the ClientHello is what counts
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]

    def loop():
        while True:
            conn, _ = lsock.accept()
            threading.Thread(target=lambda c=conn: _safe(serve_one, c, ctx), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return port


def _safe(f, *a):
    try:
        f(*a)
    except Exception as e:  # a client that gives up mid-way
        print("  server:", type(e).__name__, e)


async def main() -> None:
    ca_pem, leaf, _ = make_ca()
    port = start_server(leaf)
    url = f"https://ja3.test:{port}/"
    pin = [f"ja3.test:{port}:127.0.0.1"]
    print("impersonation targets:", " ".join(b.value for b in BrowserType))
    results = {}
    sslctx = ssl.create_default_context(cafile=str(ca_pem))
    async with aiohttp.ClientSession() as s:
        for i in range(2):
            async with s.get(
                f"https://127.0.0.1:{port}/", ssl=sslctx, server_hostname="ja3.test", headers={"Connection": "close"}
            ) as r:
                results[f"aiohttp #{i + 1}"] = await r.json(content_type=None)
    for target in ("chrome", "chrome131", "firefox", "safari", None):
        async with AsyncSession(
            impersonate=target, verify=str(ca_pem), curl_options={CurlOpt.RESOLVE: pin}, timeout=10
        ) as s:
            for i in range(2):
                r = await s.get(url, headers={"Connection": "close"})
                results[f"curl_cffi impersonate={target} #{i + 1}"] = r.json()
    for k, v in results.items():
        print(
            f"{k}:\n  ja4      {v['ja4']}\n  ja3_hash {v['ja3_hash']}  alpn {v['alpn_offered']}  sni {v['sni']}"
            f"  {v['tls_version']}\n  ja3      {v['ja3'][:150]}..."
        )


if __name__ == "__main__":
    asyncio.run(main())
