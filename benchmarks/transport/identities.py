"""Q6a: cookies per identity. One AsyncSession per identity = one cookie jar; or one shared
session with ``discard_cookies`` and the jar kept by us per identity.

Run: python benchmarks/transport/identities.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root: benchmarks, tests, crawler

import asyncio

from aiohttp import web
from curl_cffi.requests import AsyncSession, Cookies

from tests.helpers.proxy_servers import free_port


async def site() -> tuple[web.AppRunner, int]:
    async def login(request: web.Request) -> web.Response:
        who = request.query["who"]
        resp = web.Response(text=f"welcome {who}")
        resp.set_cookie("sid", f"sid-{who}", httponly=True, path="/")
        return resp

    async def me(request: web.Request) -> web.Response:
        return web.Response(text=f"sid={request.cookies.get('sid')}")

    app = web.Application()
    app.router.add_get("/login", login)
    app.router.add_get("/me", me)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def main() -> None:
    runner, port = await site()
    base = f"http://127.0.0.1:{port}"
    # (a) one session per identity
    alice, bob = AsyncSession(impersonate="chrome"), AsyncSession(impersonate="firefox")
    await alice.get(f"{base}/login?who=alice")
    await bob.get(f"{base}/login?who=bob")
    ra, rb = await asyncio.gather(alice.get(f"{base}/me"), bob.get(f"{base}/me"))
    print(
        "a) session per identity:",
        ra.text,
        "|",
        rb.text,
        "| jar alice:",
        dict(alice.cookies),
        "bob:",
        dict(bob.cookies),
    )
    await alice.close()
    await bob.close()
    # (b) one shared session, cookies kept by us (e.g. an identity's jar restored after a resume)
    async with AsyncSession(impersonate="chrome", discard_cookies=True) as s:
        jars = {"carol": Cookies(), "dave": Cookies()}
        for who, jar in jars.items():
            r = await s.get(f"{base}/login?who={who}")
            jar.update(r.cookies)  # Set-Cookie of this response only
        rs = await asyncio.gather(*(s.get(f"{base}/me", cookies=jar) for jar in jars.values()))
        print(
            "b) shared session, discard_cookies + per-request jar:",
            [r.text for r in rs],
            "| session jar:",
            dict(s.cookies),
        )
        # a jar round-trips as plain data (for resume / Redis)
        saved = [(c.name, c.value, c.domain, c.path) for c in jars["carol"].jar]
        print("   carol's jar as data:", saved)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
