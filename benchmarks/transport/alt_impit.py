"""Side check: impit (Crawlee's Rust client, the other candidate) against the h2-only and JA3/JA4 servers.

Run: python benchmarks/transport/alt_impit.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio

import impit

from benchmarks.transport.h2_only import start_h2
from benchmarks.transport.ja3_server import start_server
from benchmarks.transport.tlsutil import make_ca


async def main() -> None:
    _, leaf, _ = make_ca()
    h2srv, h2port = await start_h2(leaf)
    jport = start_server(leaf)
    print(
        "impit",
        impit.__version__ if hasattr(impit, "__version__") else "",
        "browsers:",
        getattr(impit, "Browser", None),
    )
    # verify takes a bool only: no private CA bundle, so the test CA cannot be trusted, only ignored
    async with impit.AsyncClient(browser="chrome", verify=False) as c:
        r = await c.get(f"https://127.0.0.1:{h2port}/")
        print("h2-only:", r.status_code, getattr(r, "http_version", "?"), r.content[:40])
        print("response attributes:", [a for a in dir(r) if not a.startswith("_")])
        r = await c.get(f"https://127.0.0.1:{jport}/", headers={"Connection": "close"})
        print("ja4:", r.json()["ja4"], "alpn", r.json()["alpn_offered"])
    await h2srv.stop()


if __name__ == "__main__":
    asyncio.run(main())
