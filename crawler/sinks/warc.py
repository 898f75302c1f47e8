"""``crawl.warc.gz`` (``--warc``): a WARC 1.1 request and response record per fetched response,
written with warcio, gzipped per record, on the page-writer thread so records stay in order.

The response record holds the status line and headers as received and the body exactly as the
server sent it (content encoding kept, e.g. still gzipped), after HTTP/1.1 de-chunking: a
``Transfer-Encoding: chunked`` header is replaced by the body's ``Content-Length`` so readers do
not try to de-chunk again.

Crash safety: after each record pair the file's length goes into ``OUT/.warc-good`` (one pwrite of
20 digits). A crawl killed mid-write leaves a torn gzip member at the end, and readers stop there,
so a resumed crawl first checks the members after that offset and cuts off an incomplete one.

Request records hold the headers as sent, except ``Proxy-Authorization``: a proxy's password is
never written to disk.
"""

from __future__ import annotations

import asyncio
import io
import os
import zlib
from concurrent.futures import Executor
from datetime import UTC, datetime
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.core.exchange import Exchange

NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
UNARCHIVED = frozenset({"proxy-authorization", "authorization"})  # credentials: a proxy's (aiohttp and
# Chromium send them for http:// targets) and a site's (a job's header, a login hook's token)


class WarcSink:
    """Appends request/response record pairs to ``path``, after repairing a torn tail."""

    def __init__(self, path: Path, executor: Executor) -> None:
        good = path.parent / ".warc-good"
        self._good = os.open(good, os.O_RDWR | os.O_CREAT, 0o644)
        if path.exists():
            repair_tail(path, _read_offset(self._good))
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._writer = WARCWriter(self._file, gzip=True, warc_version="WARC/1.1")
        self._executor = executor

    async def write(self, exchange: Exchange, body: bytes) -> None:
        """Archive a response (whose body as received is ``body``) and the request that produced it."""
        request, headers = self._request_and_headers(exchange, body)
        response = self._writer.create_warc_record(
            exchange.url, "response", payload=io.BytesIO(body), http_headers=_status_line(exchange, headers)
        )
        await self._write(request, response)

    async def revisit(self, exchange: Exchange, sha256: str, previous: float) -> None:
        """A ``revisit`` record instead of a response: the page is the one fetched at ``previous``
        (epoch seconds). A 304 uses the server-not-modified profile, a 200 with the same body
        identical-payload-digest; the digest is the decoded body's sha256, as in records."""
        request, headers = self._request_and_headers(exchange, None)
        refers = datetime.fromtimestamp(previous, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        record = self._writer.create_revisit_record(
            exchange.url, f"sha256:{sha256}", exchange.url, refers, http_headers=_status_line(exchange, headers)
        )
        if exchange.status == 304:
            record.rec_headers.replace_header("WARC-Profile", NOT_MODIFIED)
        await self._write(request, record)

    def _request_and_headers(self, exchange: Exchange, body: bytes | None):  # type: ignore[no-untyped-def]
        """The request's record, and the response's headers as received (a de-chunked ``body``
        gets its Content-Length; a revisit has no body)."""
        sent = [(k, v) for k, v in exchange.sent if k.lower() not in UNARCHIVED]
        if not any(k.lower() == "host" for k, _ in sent):
            sent.insert(0, ("Host", exchange.host))
        request = self._writer.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(f"{exchange.method} {exchange.target} HTTP/1.1", sent, is_http_request=True),
        )
        headers = exchange.headers
        if any(k.lower() == "transfer-encoding" for k, _ in headers):
            headers = [(k, v) for k, v in headers if k.lower() not in ("transfer-encoding", "content-length")]
            if body is not None:
                headers.append(("Content-Length", str(len(body))))
        return request, headers

    async def _write(self, request, record) -> None:  # type: ignore[no-untyped-def]
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write_pair, request, record)

    def _write_pair(self, request, response) -> None:  # type: ignore[no-untyped-def]
        self._writer.write_request_response_pair(request, response)
        self._file.flush()
        os.pwrite(self._good, b"%020d" % self._file.tell(), 0)

    def close(self) -> None:
        self._file.close()
        os.close(self._good)


def _status_line(exchange: Exchange, headers: list[tuple[str, str]]) -> StatusAndHeaders:
    """The response's status line with ``headers``, for a WARC record."""
    return StatusAndHeaders(f"{exchange.status} {exchange.reason}".strip(), headers, protocol=exchange.protocol)


def repair_tail(path: Path, good: int) -> None:
    """Cut an incomplete gzip member (a record pair torn by a crash) off the end of ``path``.
    Members before byte ``good`` are known to be whole; the rest is streamed through zlib."""
    with open(path, "rb+") as f:
        end = f.seek(0, 2)
        whole = min(good, end)  # every member before this offset is complete
        f.seek(whole)
        member, fed = zlib.decompressobj(wbits=31), 0  # one gzip member: header and trailer checked
        try:
            while chunk := f.read(1 << 20):
                while chunk:
                    member.decompress(chunk)
                    if not member.eof:
                        fed += len(chunk)
                        break
                    whole += fed + len(chunk) - len(member.unused_data)
                    chunk = member.unused_data
                    member, fed = zlib.decompressobj(wbits=31), 0
        except zlib.error:
            pass  # corrupt bytes: cut from the start of this member
        if whole < end:
            f.truncate(whole)


def _read_offset(fd: int) -> int:
    text = os.pread(fd, 20, 0)
    return int(text) if text.isdigit() else 0
