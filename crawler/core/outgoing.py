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
