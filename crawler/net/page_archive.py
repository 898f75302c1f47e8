"""What is kept of a rendered page besides its DOM (see :mod:`.render`): its screenshot, and its
main document in the WARC as the browser received it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from yarl import URL

from crawler.core.exchange import Exchange
from crawler.net.failures import storage_failure
from crawler.sinks.paths import screenshot_path

if TYPE_CHECKING:
    from playwright.async_api import Page, Request
    from playwright.async_api import Response as BrowserResponse

    from crawler.sinks.warc import WarcSink

BODY_FRAMING = ("content-encoding", "content-length", "transfer-encoding")  # not true of a decoded body


async def keep(
    page: Page, url: URL, answer: BrowserResponse | None, screens: Path | None, warc: WarcSink | None
) -> None:
    """The page's screenshot (under ``screens``) and WARC records: a disk that refuses one is the
    page's ``storage`` (or ``local``) error, as for a fetch, and says which it refused."""
    if screens is not None:
        shot = screens / screenshot_path(url)
        try:
            shot.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(shot), full_page=True)
        except OSError as e:
            raise storage_failure(e, "screenshot") from None
    if warc is not None and answer is not None:
        await archived(warc, answer)


async def archived(
    warc: WarcSink, answer: BrowserResponse, body: bytes | None = None, within: float | None = None
) -> None:
    """WARC records of the main document as the browser received it, its redirects first: a disk
    that refuses them is the page's ``storage`` (or ``local``) error, as for a fetch. The body is
    ``body``, else the one Chromium keeps, already decoded: Content-Encoding is dropped with it.
    ``within`` seconds given (a page past its deadline), they are left out when the browser cannot
    give their headers by then."""
    from playwright.async_api import Error

    try:
        async with asyncio.timeout(within):
            records = await _records(answer, await answer.body() if body is None else body)
    except (TimeoutError, Error):
        if within is None:
            raise
        return
    try:
        for exchange, payload in records:
            await warc.write(exchange, payload)
    except OSError as e:
        raise storage_failure(e, "WARC record") from None


async def _records(answer: BrowserResponse, answer_body: bytes) -> list[tuple[Exchange, bytes]]:
    """The exchanges of ``answer`` and the redirects before it, oldest first, with their bodies."""
    chain: list[BrowserResponse] = []
    request: Request | None = answer.request
    while request is not None:
        response = answer if request is answer.request else await request.response()
        if response is not None:
            chain.append(response)
        request = request.redirected_from
    records = []
    for response in reversed(chain):
        body = answer_body if response is answer else b""
        sent = [(h["name"], h["value"]) for h in await response.request.headers_array()]
        received = [
            (h["name"], h["value"]) for h in await response.headers_array() if h["name"].lower() not in BODY_FRAMING
        ]
        u = URL(response.url, encoded=True)
        exchange = Exchange(
            response.url,
            response.request.method,
            u.raw_host or "",
            u.raw_path_qs or "/",
            sent,
            response.status,
            response.status_text,
            "HTTP/1.1",
            [*received, ("Content-Length", str(len(body)))],
        )
        records.append((exchange, body))
    return records
