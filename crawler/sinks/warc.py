"""``crawl.warc.gz`` (``--warc``): a WARC 1.1 request and response record per fetched response,
written with warcio, gzipped per record, on the page-writer thread so records stay in order.

The response record holds the status line and headers as received and the body exactly as the
server sent it (content encoding kept, e.g. still gzipped), after HTTP/1.1 de-chunking: a
``Transfer-Encoding: chunked`` header is replaced by the body's ``Content-Length`` so readers do
not try to de-chunk again.
"""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import Executor
from pathlib import Path

import aiohttp
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter


class WarcSink:
    """Appends request/response record pairs to ``path``."""

    def __init__(self, path: Path, executor: Executor) -> None:
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._writer = WARCWriter(self._file, gzip=True, warc_version="WARC/1.1")
        self._executor = executor

    async def write(self, resp: aiohttp.ClientResponse, body: bytes) -> None:
        """Archive ``resp`` (whose raw body is ``body``) and the request that produced it."""
        uri = str(resp.url)
        info = resp.request_info
        target = info.url.raw_path_qs or "/"
        sent = [(k, v) for k, v in info.headers.items()]
        if not any(k.lower() == "host" for k, _ in sent):
            sent.insert(0, ("Host", info.url.raw_host or ""))
        request = self._writer.create_warc_record(
            uri, "request", payload=io.BytesIO(b""),
            http_headers=StatusAndHeaders(f"{info.method} {target} HTTP/1.1", sent, is_http_request=True))
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]
        if any(k.lower() == "transfer-encoding" for k, _ in headers):
            headers = [(k, v) for k, v in headers if k.lower() not in ("transfer-encoding", "content-length")]
            headers.append(("Content-Length", str(len(body))))
        version = f"HTTP/{resp.version.major}.{resp.version.minor}" if resp.version else "HTTP/1.1"
        response = self._writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body),
            http_headers=StatusAndHeaders(f"{resp.status} {resp.reason or ''}".strip(), headers, protocol=version))
        await asyncio.get_running_loop().run_in_executor(self._executor, self._write_pair, request, response)

    def _write_pair(self, request, response) -> None:  # type: ignore[no-untyped-def]
        self._writer.write_request_response_pair(request, response)
        self._file.flush()

    def close(self) -> None:
        self._file.close()
