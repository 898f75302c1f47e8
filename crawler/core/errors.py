"""Every error type of the crawler, and the error kinds written into records.

One module, so the CLI can catch what a backend raises without importing the backend. Every
error the crawler raises to its caller is a :class:`CrawlerError`.
"""

from __future__ import annotations

from enum import StrEnum


class CrawlerError(Exception):
    """The base of every error the crawler raises to its caller."""


class ConfigError(CrawlerError):
    """A job that cannot run as written; the message is one line meant for the user."""


class InvalidURL(CrawlerError, ValueError):
    """A URL we cannot crawl; the message says why."""


class StateError(CrawlerError):
    """state.sqlite exists but is not a usable crawler state file; the message says why."""


class LockedError(CrawlerError):
    """The output directory is held by another running crawl."""


class CheckpointError(CrawlerError):
    """Job state or records could not be saved (disk full, I/O error): the crawl stops, resumable."""


class StalledError(CrawlerError):
    """Requests keep failing on this machine (no file descriptors, memory or disk): the crawl
    stops instead of spinning, resumable once the machine has room."""


class ClusterError(CrawlerError):
    """The shared job's Redis cannot be used (unreachable past the retry window, refused our
    credentials). What this worker wrote locally is whole; a re-run continues the job."""


class DemoError(CrawlerError):
    """``crawler demo`` cannot run as asked (non-loopback address, port in use)."""


class RenderUnavailable(CrawlerError):
    """The browser cannot be started (Playwright missing, no Chromium, a version it refuses)."""


class Kind(StrEnum):
    """Why a URL did not end in a usable page. Records carry these as ``error.kind``."""

    DNS = "dns"
    CONNECT = "connect"
    TIMEOUT = "timeout"
    TLS = "tls"
    PROXY = "proxy"
    HTTP = "http"
    TOO_LARGE = "too_large"
    ABORTED = "aborted"
    DECODE = "decode"
    REDIRECT = "redirect"
    ROBOTS = "robots"
    INVALID_URL = "invalid_url"
    PROTOCOL = "protocol"
    STORAGE = "storage"
    BLOCKED = "blocked"
    LOGIN = "login"  # login: could not log in, or a covered page still looked logged out after it
    HOOK = "hook"  # the user's parse hook raised on this page
    RENDER = "render"  # the browser could not load the page (timeout, crash)
    LOCAL = "local"  # this machine ran out of something (files, sockets, memory, disk): not the site
    INTERNAL = "internal"


class FetchError(CrawlerError):
    """A classified failure of one request; ``retryable`` says whether another try may help."""

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        proxy_fault: bool = False,
        banned: bool = False,
        reported_by_proxy: str | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.proxy_fault = proxy_fault  # the proxy failed, not the target: retry through another
        self.banned = banned
        # why a proxy said it could not reach the target (refused, unreachable): the target's
        # failure, not the proxy's (see crawler.net.proxy_blame)
        self.reported_by_proxy = reported_by_proxy

    def as_record(self) -> dict[str, str]:
        return {"kind": self.kind.value, "message": self.message}
