"""Per-request curl options for curl_cffi's AsyncSession (0.17 takes ``curl_options`` only per
session): a ContextVar read when the session takes a curl handle from its pool. Task-local, so
concurrent requests each get their own (a --resolve pin from the crawl's resolver, raw bytes for WARC)."""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from curl_cffi import Curl
from curl_cffi.requests import AsyncSession

NONE: Mapping[Any, Any] = MappingProxyType({})
EXTRA: contextvars.ContextVar[Mapping[Any, Any]] = contextvars.ContextVar("curl_extra", default=NONE)


class OptionSession(AsyncSession):
    async def pop_curl(self) -> Curl:
        curl = await super().pop_curl()  # a handle is reset when it goes back to the pool
        for opt, value in EXTRA.get().items():
            curl.setopt(opt, value)
        return curl


async def get(session: AsyncSession, url: str, options: Mapping[Any, Any], **kw: Any):
    token = EXTRA.set(options)
    try:
        return await session.get(url, **kw)
    finally:
        EXTRA.reset(token)
