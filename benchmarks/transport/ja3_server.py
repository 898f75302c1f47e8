"""Q3: a TLS server that reads the ClientHello from the raw socket, computes JA3 and JA4, completes
the handshake (ssl.MemoryBIO, fed the same bytes) and answers the fingerprint as JSON over HTTP/1.1.

Run: python benchmarks/transport/ja3_server.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio
import hashlib
import json
import socket
import ssl
import struct
import threading

import aiohttp
from curl_cffi import CurlOpt
from curl_cffi.requests import AsyncSession, BrowserType

from benchmarks.transport.tlsutil import make_ca, server_context


def is_grease(v: int) -> bool:
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def parse_client_hello(data: bytes) -> dict:
    """Fields of a ClientHello (``data``: the TLS record(s) carrying it)."""
    hs = b""
    while data:  # join the handshake records
        ctype, _, n = struct.unpack("!BHH", data[:5])
        assert ctype == 22, "not a handshake record"
        hs += data[5 : 5 + n]
        data = data[5 + n :]
    assert hs[0] == 1, "not a ClientHello"
    body = hs[4 : 4 + int.from_bytes(hs[1:4], "big")]
    p = 0
    version = struct.unpack("!H", body[p : p + 2])[0]
    p += 2 + 32
    p += 1 + body[p]  # session id
    n = struct.unpack("!H", body[p : p + 2])[0]
    ciphers = list(struct.unpack(f"!{n // 2}H", body[p + 2 : p + 2 + n]))
    p += 2 + n
    p += 1 + body[p]  # compression methods
    ext_end = p + 2 + struct.unpack("!H", body[p : p + 2])[0]
    p += 2
    exts: list[int] = []
    groups: list[int] = []
    formats: list[int] = []
    sigalgs: list[int] = []
    alpn: list[str] = []
    versions: list[int] = []
    sni = None
    while p < ext_end:
        t, n = struct.unpack("!HH", body[p : p + 4])
        d = body[p + 4 : p + 4 + n]
        p += 4 + n
        exts.append(t)
        if t == 0 and n > 5:
            sni = d[5:].decode()
        elif t == 10:
            groups = list(struct.unpack(f"!{(n - 2) // 2}H", d[2:]))
        elif t == 11:
            formats = list(d[1:])
        elif t == 13:
            sigalgs = list(struct.unpack(f"!{(n - 2) // 2}H", d[2:]))
        elif t == 16:
            q = 2
            while q < n:
                alpn.append(d[q + 1 : q + 1 + d[q]].decode())
                q += 1 + d[q]
        elif t == 43:
            versions = list(struct.unpack(f"!{d[0] // 2}H", d[1:]))
    return dict(
        version=version,
        ciphers=ciphers,
        exts=exts,
        groups=groups,
        formats=formats,
        sigalgs=sigalgs,
        alpn=alpn,
        versions=versions,
        sni=sni,
    )


def ja3(h: dict) -> tuple[str, str]:
    def j(xs):
        return "-".join(str(x) for x in xs if not is_grease(x))

    s = f"{h['version']},{j(h['ciphers'])},{j(h['exts'])},{j(h['groups'])},{j(h['formats'])}"
    return s, hashlib.md5(s.encode()).hexdigest()


def ja4(h: dict) -> str:
    """JA4 (FoxIO spec): t<ver><d|i><nciph><next><alpn>_<sha256(sorted ciphers)[:12]>_
    <sha256(sorted exts, then signature algorithms)[:12]>."""
    ciphers = [c for c in h["ciphers"] if not is_grease(c)]
    exts = [e for e in h["exts"] if not is_grease(e)]
    vers = [v for v in h["versions"] if not is_grease(v)] or [h["version"]]
    ver = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10"}.get(max(vers), "00")
    alpn = h["alpn"][0] if h["alpn"] else ""
    a_alpn = (alpn[0] + alpn[-1]) if alpn else "00"
    a = f"t{ver}{'d' if h['sni'] else 'i'}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a_alpn}"

    def sha12(s: str) -> str:
        return hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"

    b = sha12(",".join(f"{c:04x}" for c in sorted(ciphers)))
    ext_s = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (0x0000, 0x0010)))
    sig_s = ",".join(f"{s:04x}" for s in h["sigalgs"])
    c = sha12(f"{ext_s}_{sig_s}" if sig_s else ext_s)
    return f"{a}_{b}_{c}"


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
        hello = parse_client_hello(raw)
        s3, h3 = ja3(hello)
        info = {"ja3": s3, "ja3_hash": h3, "ja4": ja4(hello), "alpn_offered": hello["alpn"], "sni": hello["sni"]}
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
