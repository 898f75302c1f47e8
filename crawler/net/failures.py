"""Failures of a fetch, sorted into the error kinds records carry.

A failure is the site's (it answers wrongly or not at all), the network's, a proxy's, or this
machine's (out of file descriptors, memory or disk: ``local``, which spends no retry). Anything
that is none of these is a bug of ours, which the engine records as ``internal``.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import zlib

import aiohttp
import aiohttp_socks
from aiohttp.http_exceptions import HttpProcessingError

from crawler.core.errors import FetchError, Kind
from crawler.net.curl_failures import classify_curl_error, is_curl_error
from crawler.net.dns import NameNotFound
from crawler.net.proxy_blame import SQUID_ERROR, printable, socks_target, tunnel_target
from crawler.net.resolver import BlockedAddress

LOCAL_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.ENOSPC})


def _local_failure(exc: BaseException) -> str | None:
    """What this machine ran out of, if that is why ``exc`` happened (the site is not to blame):
    file descriptors, sockets, memory or disk; or a resolver that failed with a system error."""
    for e in (exc, getattr(exc, "os_error", None), exc.__cause__):
        if isinstance(e, socket.gaierror) and e.errno == socket.EAI_SYSTEM:
            return f"the resolver failed with a system error ({e.strerror})"
        if isinstance(e, OSError) and e.errno in LOCAL_ERRNOS:
            return e.strerror or errno.errorcode[e.errno]
    return None


def is_transport(exc: BaseException) -> bool:
    """An exception the network or the disk can cause (classified into a record's error kind);
    anything else is a bug of ours, which the engine records as ``internal`` and warns about.
    curl_cffi's errors count too (its low-level ``CurlError`` is no ``OSError``)."""
    return is_curl_error(exc) or isinstance(
        exc,
        (
            aiohttp.ClientError,
            aiohttp_socks.ProxyError,
            aiohttp_socks.ProxyTimeoutError,
            aiohttp_socks.ProxyConnectionError,
            asyncio.TimeoutError,
            OSError,
            HttpProcessingError,
            UnicodeError,
            zlib.error,
        ),
    )


def classify_lookup(exc: OSError) -> FetchError:
    """A failure of the crawl's resolver, asked by a transport that does not resolve itself (curl)."""
    if isinstance(exc, BlockedAddress):
        return FetchError(Kind.BLOCKED, str(exc))
    local = _local_failure(exc)
    if local is not None:
        return FetchError(Kind.LOCAL, local, retryable=True)
    if isinstance(exc, NameNotFound):  # the name does not exist: asking again will not help
        return FetchError(Kind.DNS, f"cannot resolve host: {exc.strerror or exc}")
    return FetchError(Kind.DNS, f"cannot resolve host: {exc}", retryable=True)


def classify_connect(target: str, exc: OSError) -> FetchError:
    """A failure to connect to ``target`` (``host:port``) by a part that connects itself (the
    browser's guard), in the words a fetch's would have."""
    local = _local_failure(exc)
    if local is not None:
        return FetchError(Kind.LOCAL, local, retryable=True)
    if isinstance(exc, TimeoutError):
        return FetchError(Kind.TIMEOUT, f"timed out connecting to {target}", retryable=True)
    return FetchError(Kind.CONNECT, f"cannot connect to {target}: {exc.strerror or exc}", retryable=True)


def storage_failure(exc: OSError, what: str = "page") -> FetchError:
    """This machine's disk refused to take ``what`` (a page, a screenshot…): ``local`` when it ran
    out of room, else ``storage``; the page's own error, never the site's."""
    local = _local_failure(exc)
    if local is not None:
        return FetchError(Kind.LOCAL, f"cannot write {what}: {local}", retryable=True)
    return FetchError(Kind.STORAGE, f"cannot write {what}: {exc}")


def classify(exc: BaseException) -> FetchError:
    """Map an aiohttp/OS exception to an error kind, a readable message and retryability.

    A curl error is not for here: curl_cffi's high-level errors are ``OSError``s and would pass for
    a failed page write (``storage``). The curl transport calls ``classify_curl`` with the
    handle's infos; one that reaches here anyway is classified by its code alone."""
    if is_curl_error(exc):
        return classify_curl_error(exc)
    text = str(exc) or type(exc).__name__
    os_error = getattr(exc, "os_error", None)
    local = _local_failure(exc)
    if isinstance(os_error, BlockedAddress | NameNotFound) and local is None:  # the resolver's answer
        return classify_lookup(os_error)
    if local is not None:
        return FetchError(Kind.LOCAL, local, retryable=True)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return FetchError(Kind.DNS, f"cannot resolve host: {text}", retryable=True)
    if isinstance(exc, (aiohttp.ClientProxyConnectionError, aiohttp_socks.ProxyConnectionError)):
        return FetchError(Kind.PROXY, f"cannot connect to proxy: {text}", retryable=True)
    if isinstance(exc, aiohttp.ClientHttpProxyError):  # (the target's when the proxy says it is)
        return tunnel_target(
            exc.status, exc.message, squid=exc.headers.get(SQUID_ERROR) if exc.headers else None
        ) or FetchError(Kind.PROXY, f"proxy refused the tunnel ({exc.status} {printable(exc.message)})", retryable=True)
    if isinstance(exc, aiohttp_socks.ProxyError) and (target := socks_target(exc.error_code)) is not None:
        return target  # the SOCKS proxy works: the target refused it or cannot be reached
    if isinstance(exc, (aiohttp_socks.ProxyError, aiohttp_socks.ProxyTimeoutError)):
        return FetchError(Kind.PROXY, f"SOCKS proxy failed: {text}", retryable=True)
    if isinstance(exc, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError)):
        return FetchError(Kind.TLS, text)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return FetchError(Kind.CONNECT, text, retryable=True)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return FetchError(Kind.TIMEOUT, f"timed out: {text}" if str(exc) else "timed out", retryable=True)
    if isinstance(exc, aiohttp.ClientPayloadError):
        if "encoding" in text.lower() or "decompress" in text.lower():
            return FetchError(Kind.DECODE, f"cannot decode body: {text}")
        return FetchError(Kind.ABORTED, f"body cut short: {text}", retryable=True)
    if isinstance(exc, (aiohttp.ClientConnectionError, ConnectionError)):
        return FetchError(Kind.ABORTED, f"connection lost: {text}", retryable=True)
    if isinstance(exc, aiohttp.InvalidURL):
        return FetchError(Kind.INVALID_URL, f"invalid URL: {text}")
    if isinstance(exc, aiohttp.ClientResponseError):
        if "content-encoding" in text.lower():  # e.g. br without the Brotli package
            return FetchError(Kind.DECODE, f"cannot decode body: {exc.message or text}")
        return FetchError(Kind.PROTOCOL, f"bad response: {exc.message or text}")
    if isinstance(exc, OSError):
        return storage_failure(exc)
    if isinstance(exc, (UnicodeError, zlib.error)):
        return FetchError(Kind.DECODE, f"cannot decode body: {text}")
    return FetchError(Kind.PROTOCOL, f"{type(exc).__name__}: {text}")
