"""TEMP STUB (helper-28 builds the real one)."""

from __future__ import annotations

from crawler.core.errors import FetchError, Kind
from crawler.net.wire import Rejected


def classify_curl(
    code: int, message: str, *, proxy_error: int = 0, connect_code: int = 0, via_proxy: bool
) -> FetchError | Rejected:
    if via_proxy and code == 7 and connect_code in (401, 407):
        return Rejected(connect_code)
    if code == 23:
        return FetchError(Kind.TOO_LARGE, message)
    if code == 28:
        return FetchError(Kind.TIMEOUT, message, retryable=True)
    if code in (7,):
        return FetchError(Kind.CONNECT, message, retryable=True)
    if code in (35, 60):
        return FetchError(Kind.TLS, message)
    return FetchError(Kind.ABORTED, message, retryable=True)
