"""A request about to be sent, as the user's ``request`` hook sees and changes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Outgoing:
    """A request about to be sent, as the ``request`` hook sees it: it may add or change
    ``headers`` and ``cookies`` (for this request only), e.g. to sign it or add a token, and
    choose its ``proxy``. The host's slot is already held: a hook cannot bypass politeness."""

    url: str
    depth: int
    meta: dict[str, Any] = field(default_factory=dict)  # read-only here: the URL's stored meta
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    proxy: str | None = None  # None: the job's proxy rules; "direct"; a proxy pool's name; a proxy URL


def breaks_header(text: str) -> bool:
    """True if ``text`` holds CR, LF or NUL: written into a request's head, it would end the
    header line early and let the rest pose as headers or as another request. Job headers, the
    User-Agent, cookies and what a request hook sets are refused for it."""
    return "\r" in text or "\n" in text or "\0" in text
