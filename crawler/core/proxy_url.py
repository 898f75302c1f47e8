"""Proxy URLs: validation and credential redaction (the job schema checks proxy URLs with these)."""

from __future__ import annotations

import re

from yarl import URL

SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")


def parse_proxy(text: str) -> URL:
    """A proxy URL, validated; errors never repeat the credentials."""
    try:
        url = URL(text.strip())
        port = url.port
    except (ValueError, TypeError):
        raise ValueError(f"{redact_url(text)!r} is not a valid proxy URL") from None
    if url.scheme not in SCHEMES:
        raise ValueError(f"{redact_url(text)!r}: proxy scheme must be one of {', '.join(SCHEMES)}")
    if not url.host or not port:
        raise ValueError(f"{redact_url(text)!r}: a proxy URL needs a host and a port")
    return url


def redact_url(text: str) -> str:
    """``scheme://user:pass@host`` → ``scheme://***@host`` (also for unparsable text)."""
    return re.sub(r"(?<=://)[^\s'\"]*@", "***@", text)  # greedy: a password may hold "@" or "/"
