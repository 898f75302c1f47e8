"""Failures of the curl transport, sorted into the error kinds records carry.

The curl counterpart of :func:`crawler.net.failures.classify`. curl_cffi's exception classes are
coarse (one ``ConnectionError`` for refused, cut and empty answers) and the high-level ones are
``OSError`` subclasses, so failures are told apart by curl's error code and two infos of the
handle, never by class: ``CURLINFO_HTTP_CONNECTCODE`` (what an HTTP proxy answered our CONNECT)
and ``CURLINFO_PROXY_ERROR`` (what went wrong with a SOCKS proxy). The transport reads them with
``getinfo`` and passes them in, so this module is pure and never imports curl_cffi (an optional
dependency). The mapping and the failures it was measured on are in
``benchmarks/results/2026-12-07-transport-study.md``, section 4.
"""

from __future__ import annotations

import re
import sys
from enum import IntEnum

from crawler.core.errors import FetchError, Kind
from crawler.core.proxy_url import redact_url
from crawler.net.proxy_blame import socks_target, tunnel_target
from crawler.net.wire import Rejected


class Code(IntEnum):
    """The libcurl error codes (``CURLE_*``) this module tells apart."""

    UNSUPPORTED_PROTOCOL = 1
    URL_MALFORMAT = 3
    COULDNT_RESOLVE_PROXY = 5
    COULDNT_RESOLVE_HOST = 6
    COULDNT_CONNECT = 7
    WEIRD_SERVER_REPLY = 8
    HTTP2 = 16
    PARTIAL_FILE = 18
    WRITE_ERROR = 23
    OUT_OF_MEMORY = 27
    OPERATION_TIMEDOUT = 28
    SSL_CONNECT_ERROR = 35
    TOO_MANY_REDIRECTS = 47
    GOT_NOTHING = 52
    SEND_ERROR = 55
    RECV_ERROR = 56
    SSL_CERTPROBLEM = 58
    SSL_CIPHER = 59
    PEER_FAILED_VERIFICATION = 60
    BAD_CONTENT_ENCODING = 61
    SSL_CACERT_BADFILE = 77
    SSL_ISSUER_ERROR = 83
    HTTP2_STREAM = 92
    HTTP3 = 95
    QUIC_CONNECT_ERROR = 96
    PROXY = 97
    SSL_CLIENTCERT = 98


class Px(IntEnum):
    """The SOCKS proxy failures (``CURLPX_*``, ``CURLINFO_PROXY_ERROR``) that are not the proxy's
    own trouble: our credentials, or a target the proxy could not reach."""

    NO_AUTH = 12
    REPLY_CONNECTION_REFUSED = 19
    REPLY_HOST_UNREACHABLE = 21
    REPLY_NETWORK_UNREACHABLE = 22
    REPLY_TTL_EXPIRED = 24
    USER_REJECTED = 33


SOCKS_CREDENTIALS = {Px.USER_REJECTED: "SOCKS user rejected", Px.NO_AUTH: "SOCKS: no acceptable authentication"}
# the SOCKS5 reply byte behind each (curl's lookup table, lib/socks.c): see crawler.net.proxy_blame
SOCKS_TARGET = {
    Px.REPLY_NETWORK_UNREACHABLE: 3,
    Px.REPLY_HOST_UNREACHABLE: 4,
    Px.REPLY_CONNECTION_REFUSED: 5,
    Px.REPLY_TTL_EXPIRED: 6,
}
TLS_CODES = frozenset(
    {
        Code.SSL_CONNECT_ERROR,
        Code.SSL_CERTPROBLEM,
        Code.SSL_CIPHER,
        Code.PEER_FAILED_VERIFICATION,
        Code.SSL_CACERT_BADFILE,
        Code.SSL_ISSUER_ERROR,
        Code.SSL_CLIENTCERT,
    }
)

# code → (kind, retryable, what the message starts with); without a proxy, or when the proxy is
# not the one that failed. A code not listed is a protocol failure, not retried.
KINDS: dict[int, tuple[Kind, bool, str]] = {
    Code.UNSUPPORTED_PROTOCOL: (Kind.PROTOCOL, False, "bad response"),  # a non-HTTP answer ("HTTP/0.9")
    Code.URL_MALFORMAT: (Kind.INVALID_URL, False, "invalid URL"),
    Code.COULDNT_RESOLVE_PROXY: (Kind.PROXY, True, "cannot resolve proxy"),
    Code.COULDNT_RESOLVE_HOST: (Kind.DNS, True, "cannot resolve host"),  # only when curl resolves itself
    Code.COULDNT_CONNECT: (Kind.CONNECT, True, "cannot connect"),
    Code.WEIRD_SERVER_REPLY: (Kind.PROTOCOL, False, "bad response"),
    Code.HTTP2: (Kind.PROTOCOL, True, "HTTP/2 failed"),
    Code.PARTIAL_FILE: (Kind.ABORTED, True, "body cut short"),
    Code.WRITE_ERROR: (Kind.TOO_LARGE, False, "body refused"),  # only our write callback stops a body: the cap
    Code.OUT_OF_MEMORY: (Kind.LOCAL, True, "out of memory"),  # unless it is "URL rejected" (see classify_curl)
    Code.OPERATION_TIMEDOUT: (Kind.TIMEOUT, True, "timed out"),
    Code.SSL_CONNECT_ERROR: (Kind.TLS, False, "TLS failed"),
    Code.TOO_MANY_REDIRECTS: (Kind.REDIRECT, False, "too many redirects"),  # redirects are not followed
    Code.GOT_NOTHING: (Kind.ABORTED, True, "connection lost"),
    Code.SEND_ERROR: (Kind.ABORTED, True, "connection lost"),
    Code.RECV_ERROR: (Kind.ABORTED, True, "connection lost"),
    Code.SSL_CERTPROBLEM: (Kind.TLS, False, "TLS failed"),
    Code.SSL_CIPHER: (Kind.TLS, False, "TLS failed"),
    Code.PEER_FAILED_VERIFICATION: (Kind.TLS, False, "TLS failed"),
    Code.BAD_CONTENT_ENCODING: (Kind.DECODE, False, "cannot decode body"),  # only if curl decodes
    Code.SSL_CACERT_BADFILE: (Kind.TLS, False, "TLS failed"),
    Code.SSL_ISSUER_ERROR: (Kind.TLS, False, "TLS failed"),
    Code.HTTP2_STREAM: (Kind.PROTOCOL, True, "HTTP/2 stream failed"),  # RST_STREAM, GOAWAY
    Code.HTTP3: (Kind.PROTOCOL, True, "HTTP/3 failed"),
    Code.QUIC_CONNECT_ERROR: (Kind.CONNECT, True, "cannot connect (QUIC)"),
    Code.PROXY: (Kind.PROXY, True, "SOCKS proxy failed"),
    Code.SSL_CLIENTCERT: (Kind.TLS, False, "TLS failed"),
}


def is_curl_error(exc: BaseException) -> bool:
    """Whether ``exc`` is curl_cffi's (``CurlError`` and the high-level exceptions deriving from
    it). curl_cffi is optional and never imported here: if nothing imported it, no error is its."""
    curl = sys.modules.get("curl_cffi.curl")
    return curl is not None and isinstance(exc, curl.CurlError)


def classify_curl(
    code: int,
    message: str,
    *,
    proxy_error: int = 0,
    connect_code: int = 0,
    connect_reason: str = "",
    connect_squid: str = "",
    proxy_tls_verify: int = 0,
    via_proxy: bool,
) -> FetchError | Rejected:
    """The error kind, a readable line and retryability of a failed curl transfer, or
    :class:`~crawler.net.wire.Rejected` when the proxy refused our credentials (disable it).

    ``code`` and ``message`` come from the ``CurlError``; ``proxy_error``, ``connect_code`` and
    ``proxy_tls_verify`` are ``getinfo`` of ``PROXY_ERROR``, ``HTTP_CONNECTCODE`` and
    ``PROXY_SSL_VERIFYRESULT`` after the failure; ``connect_reason`` is the reason phrase of the
    proxy's answer to CONNECT, ``connect_squid`` its ``X-Squid-Error`` header. The message never
    holds credentials.
    """
    code = int(code)
    detail = curl_message(message)
    if via_proxy:
        failed = _proxy_failure(
            code, detail, proxy_error, (connect_code, connect_reason, connect_squid), proxy_tls_verify
        )
        if failed is not None:
            return failed
    return _by_code(code, detail)


def classify_curl_error(exc: BaseException) -> FetchError:
    """A curl error by its code and message alone (no proxy infos): what :func:`classify` does with
    one that reaches it."""
    return _by_code(int(getattr(exc, "code", 0) or 0), curl_message(str(exc)))


def _by_code(code: int, detail: str) -> FetchError:
    if code == Code.OUT_OF_MEMORY and "URL rejected" in detail:  # curl uses 27 for both
        return FetchError(Kind.INVALID_URL, f"invalid URL: {detail} (curl {code})")
    kind, retryable, what = KINDS.get(code, (Kind.PROTOCOL, False, "transfer failed"))
    return FetchError(kind, f"{what}: {detail} (curl {code})", retryable=retryable)


def _proxy_failure(
    code: int, detail: str, proxy_error: int, connect: tuple[int, str, str], tls_verify: int
) -> FetchError | Rejected | None:
    """The failure as the proxy's, or as the target's that the proxy reported (None: the target's,
    classified as without a proxy)."""
    connect_code, reason, squid = connect
    if connect_code in (401, 407):  # tinyproxy answers a wrong password with 401, a missing one with 407
        return Rejected(connect_code)
    if connect_code >= 300:  # the HTTP proxy refused our CONNECT
        what = f"proxy refused the tunnel ({connect_code}) (curl {code})"
        return tunnel_target(connect_code, reason, f"curl {code}", squid) or FetchError(
            Kind.PROXY, what, retryable=True
        )
    if code == Code.PROXY:
        if proxy_error in SOCKS_CREDENTIALS:
            return Rejected(SOCKS_CREDENTIALS[Px(proxy_error)])
        if proxy_error in SOCKS_TARGET:  # the proxy works; the target refused it or cannot be reached
            return socks_target(SOCKS_TARGET[Px(proxy_error)], f"curl {code}")
        what = f"SOCKS proxy failed: {detail} (curl {code}, proxy error {proxy_error})"
        return FetchError(Kind.PROXY, what, retryable=True)
    if code == Code.COULDNT_CONNECT:  # a target behind a proxy fails by CONNECT code or SOCKS reply instead
        return FetchError(Kind.PROXY, f"cannot connect to proxy: {detail} (curl {code})", retryable=True)
    if code == Code.RECV_ERROR and "CONNECT" in detail:  # the proxy dropped the tunnel being set up
        return FetchError(Kind.PROXY, f"proxy failed: {detail} (curl {code})", retryable=True)
    if code in TLS_CODES and tls_verify:  # an https:// proxy's own certificate
        return FetchError(Kind.PROXY, f"TLS with the proxy failed: {detail} (curl {code})", retryable=True)
    return None


_WRAPPER = re.compile(r"^Failed to [^,]*, curl: \(\d+\) ")  # curl_cffi's "Failed to perform, curl: (7) "
_SEE_DOCS = re.compile(r"\s*See https://curl\.se/libcurl/c/libcurl-errors\.html.*$", re.DOTALL)
# user:pass@host without a scheme (redact_url takes those after "://"); greedy as it is
_USERINFO = re.compile(r"(?<![\w./:@-])[^\s/@:'\"]+:[^\s'\"]*@")


def curl_message(message: str) -> str:
    """curl_cffi's message as one readable line: without its wrapper and pointer to the docs, and
    without credentials (``user:pass@`` of any URL, with or without a scheme)."""
    text = _SEE_DOCS.sub("", _WRAPPER.sub("", message.strip()))
    text = _USERINFO.sub("***@", redact_url(text))
    return " ".join(text.split()).rstrip(". ") or "no message"
