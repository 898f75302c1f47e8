"""How long a server asks us to wait: the Retry-After header, as delta-seconds or an HTTP-date."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

from multidict import MultiMapping

from crawler.core.errors import FetchError, Kind

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})  # may pass if asked again


def parse_retry_after(value: str | None, cap: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), capped at ``cap``."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), cap)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), cap))


def status_error(status: int, text: str, headers: MultiMapping[str], cap: float) -> FetchError:
    """The ``http`` error of an answer's error ``status`` (``text``: its message), fetched or
    rendered: retried when it may pass, after its Retry-After (at most ``cap`` seconds)."""
    wait = parse_retry_after(headers.get("Retry-After"), cap)
    return FetchError(Kind.HTTP, text, retryable=status in RETRY_STATUS, retry_after=wait)
