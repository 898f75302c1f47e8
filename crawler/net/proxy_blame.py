"""Whose failure it is when a request through a proxy fails: the proxy's, or the target's.

A proxy's fault (it cannot be reached, times out, cuts the connection, fails in a general way)
marks the error ``proxy_fault``: the request moves to another proxy (``proxy_retries``) and this
one cools down. But a proxy that works says so when the *target* is the trouble, and then the
error is the target's (``connect``, normal retries, the proxy released as healthy):

- a SOCKS5 proxy's reply ``0x03`` network unreachable, ``0x04`` host unreachable, ``0x05``
  connection refused, ``0x06`` TTL expired (microsocks' answer when its connect timed out). A
  general failure (``0x01``: microsocks' answer to a name it cannot resolve, under ``socks5h``), a
  ruleset's refusal (``0x02``), an unsupported command or address type stay the proxy's: another
  proxy may do better;
- tinyproxy's answer to a CONNECT it could not make, ``500 Unable to connect`` (a refused port
  and an unknown name alike; its trouble with an upstream proxy is another reason phrase), and
  the same answer to a plain ``http://`` request it could not forward (never archived as the
  target's);
- squid's answers (503 or 504, to a CONNECT and to a plain ``http://`` request alike) that carry
  ``X-Squid-Error: ERR_CONNECT_FAIL`` (the target refused it or timed out) or ``ERR_DNS_FAIL``
  (no such name: the target's ``dns`` error).

Other proxies' refusals (a 502 or a 503 may be the proxy's own trouble) stay the proxy's.

A proxy whose own uplink is down says every target is unreachable: once it has said so of
``UPLINK_TARGETS`` different targets (host and port) with no answer through it in between, it is
blamed again, as for any other failure of its own, until a request through it gets an answer
(:func:`uplink_down`). A few dead sites in a crawl rarely come in a row; a dead uplink always
does. Known dead sites (:class:`DeadSites`) do not count: at a crawl's end only their retries may
be left, with no live page between them.

A ``dns`` error through ``socks4://``/``socks5://`` is the target's too: the crawl resolves those
targets itself, before the proxy is asked. Through an HTTP proxy it is the proxy's own name.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from yarl import URL

from crawler.core.errors import FetchError, Kind

if TYPE_CHECKING:
    from crawler.net.proxies import Proxy
    from crawler.net.wire import Wire

SOCKS5_TARGET = {3: "network unreachable", 4: "host unreachable", 5: "connection refused", 6: "TTL expired"}
TUNNEL_TARGET = frozenset({(500, "unable to connect")})  # tinyproxy's (status, reason phrase)
SQUID_ERROR = "X-Squid-Error"  # the header of squid's own error pages
SQUID_STATUS = frozenset({503, 504})  # what Squid answers when it cannot reach the target
SQUID_TARGET = {"ERR_CONNECT_FAIL": Kind.CONNECT, "ERR_DNS_FAIL": Kind.DNS}  # X-Squid-Error's first word
LOCAL_DNS = frozenset({"socks4", "socks5"})  # the crawl resolves the target's name, then asks the proxy
PROXY_KINDS = frozenset({Kind.PROXY, Kind.CONNECT, Kind.TIMEOUT, Kind.ABORTED, Kind.DNS})
SAID_MAX = 100  # characters of a proxy's reason phrase or error header kept in a message
UPLINK_TARGETS = 3  # different targets reported unreachable in a row: the proxy's own network is down
DEAD_SITES_KEPT = 10_000  # known dead sites remembered (the oldest forgotten first)


def socks_target(reply: int | None, note: str = "") -> FetchError | None:
    """The error of a SOCKS5 ``reply`` code that says the target could not be reached (None: the
    proxy's own failure); ``note`` (e.g. curl's error code) goes after the reply code."""
    reason = SOCKS5_TARGET.get(reply or 0)
    return None if reason is None else unreachable(f"{reason} (SOCKS5 reply {reply}{note and ', '}{note})")


def tunnel_target(status: int, reason: str, note: str = "", squid: str | None = None) -> FetchError | None:
    """The error of an HTTP proxy's answer to CONNECT (``status``, ``reason`` phrase, ``squid``:
    its ``X-Squid-Error`` header) that says it could not reach the target (None: the proxy
    refused the tunnel for a reason of its own)."""
    phrase = printable(reason)
    kind = SQUID_TARGET.get((squid or "").partition(" ")[0]) if status in SQUID_STATUS else None
    if kind is None and (status, phrase.lower()) not in TUNNEL_TARGET:
        return None
    said = f"{status} {phrase}" + (f", {printable(squid or '')}" if kind is not None else "")
    return unreachable(said + (f" ({note})" if note else ""), kind or Kind.CONNECT)


def printable(text: str) -> str:
    """A proxy's (or a server's posing as one) words for a message: one line, no control
    characters, at most ``SAID_MAX`` characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text[: SAID_MAX * 2]).split())[:SAID_MAX]


def forwarded_target(proxy: Proxy, url: URL, wire: Wire) -> FetchError | None:
    """The error of an HTTP proxy's own answer to a plain ``http://`` request it forwarded, when it
    says it could not reach the target (as to a CONNECT); None for the target's answer. Else the
    proxy's page would pass for the target's own 500 or 503."""
    return forwarded_answer(proxy, url, wire.status, wire.reason, wire.headers.get(SQUID_ERROR))


def forwarded_answer(proxy: Proxy, url: URL, status: int, reason: str, squid: str | None) -> FetchError | None:
    """:func:`forwarded_target` of an answer's ``status``, ``reason`` phrase and ``squid`` header
    (``X-Squid-Error``), however it came (the fetcher's wire, the browser's response)."""
    if not forwards(proxy, url):
        return None
    return tunnel_target(status, reason, squid=squid)


def forwards(proxy: Proxy, url: URL) -> bool:
    """Whether an answer for ``url`` through ``proxy`` may be the proxy's own page: an HTTP proxy
    forwarding a plain ``http://`` request (through a tunnel or SOCKS, every answer is the site's)."""
    return not proxy.is_socks and url.scheme == "http"


def blame(error: FetchError, proxy: Proxy | None, url: URL, redact: Callable[[str], str], sent: float) -> FetchError:
    """``error`` of a request for ``url`` sent through ``proxy`` at ``sent`` (loop time), its
    message without credentials (``redact``): ``proxy_fault`` when it is the proxy's, naming the
    target when the proxy reported it unreachable."""
    if proxy is None:
        return error
    error.message = redact(error.message)
    if error.reported_by_proxy is not None:
        said = redact(error.reported_by_proxy)
        if uplink_down(proxy, target_of(url), sent):
            error.proxy_fault = True
            error.message = (
                f"via {proxy.id}: {len(proxy.unreachable)} different targets unreachable since it last "
                f"reached one, its own network may be down ({target_of(url)}: {said})"
            )
        else:
            what = "cannot resolve" if error.kind is Kind.DNS else "cannot connect to"
            error.message = f"{what} {target_of(url)}, reported by proxy {proxy.id}: {said}"
    elif error.kind is Kind.DNS and proxy.scheme in LOCAL_DNS:
        pass  # the crawl's own lookup of the target, before the proxy was asked
    elif error.kind in PROXY_KINDS:
        error.proxy_fault = True
        if error.kind is not Kind.PROXY:
            error.message = f"via {proxy.id}: {error.message}"
    return error


def uplink_down(proxy: Proxy, target: str, sent: float) -> bool:
    """Whether this report that ``target`` is unreachable (of a request sent at ``sent``) shows
    the proxy's own network down: the ``UPLINK_TARGETS``-th different target since it last
    answered. Reports of requests already sent when the first came back are one burst (a crawl's
    dead seeds, all in flight at once) and count as that one; reports while it cools down count
    for nothing more (it was blamed once for them). A known dead site is no news."""
    now = asyncio.get_running_loop().time()
    if target in proxy.dead_sites:
        return False
    proxy.reported.add(target)
    if proxy.run_start is None:
        proxy.run_start = now
    elif sent < proxy.run_start:
        return False
    proxy.unreachable.add(target)
    if len(proxy.unreachable) < UPLINK_TARGETS or proxy.cooling_until > now:
        return False
    proxy.uplink_down = True
    return True


class DeadSites:
    """Targets a proxy said it could not reach while its own network worked (it answered for
    another target after), shared by a crawl's proxies; a target that answers through any of them
    is alive again. At most ``DEAD_SITES_KEPT``: the oldest is forgotten first."""

    def __init__(self) -> None:
        self._targets: dict[str, None] = {}  # (in the order learnt: the oldest is forgotten first)

    def __contains__(self, target: str) -> bool:
        return target in self._targets

    def add(self, targets: set[str]) -> None:
        for target in targets:
            self._targets.pop(target, None)
            self._targets[target] = None
            if len(self._targets) > DEAD_SITES_KEPT:
                del self._targets[next(iter(self._targets))]

    def discard(self, target: str) -> None:
        self._targets.pop(target, None)


def reached(proxy: Proxy, url: URL, sent: float) -> None:
    """A request for ``url`` through ``proxy``, sent at ``sent``, got an answer: the target is
    alive, and the proxy's own network works, unless the request went out before the first of
    its reports since (an answer already on its way when the network went down says nothing of
    now). Then the targets it said it could not reach are dead sites, unless it was blamed for
    them (its network was down: they may be alive); the count starts over, and a cool-down for a
    network that was down ends."""
    proxy.dead_sites.discard(target_of(url))
    if proxy.run_start is not None and sent < proxy.run_start:
        return
    if not proxy.uplink_down:
        proxy.dead_sites.add(proxy.reported)
    proxy.reported.clear()
    proxy.unreachable.clear()
    proxy.run_start = None
    if proxy.uplink_down:  # (an answer to a request sent since its reports began: it reaches targets)
        proxy.uplink_down = False
        proxy.cooling_until = 0.0


def ban_signal(proxy: Proxy, what: str) -> FetchError:
    """The proxy's ban signal (``proxy_ban_status``, ``proxy_ban_body``) seen in an answer through
    it: the proxy cools down as banned and the page moves to another."""
    return FetchError(Kind.PROXY, f"ban signal via {proxy.id}: {what}", banned=True)


def unreachable(reason: str, kind: Kind = Kind.CONNECT) -> FetchError:
    """The target's failure as a proxy reported it; its message is completed by :func:`blame`."""
    return FetchError(
        kind, f"the proxy cannot connect to the target: {reason}", retryable=True, reported_by_proxy=reason
    )


def target_of(url: URL) -> str:
    """``host:port`` of ``url`` (``[v6]:port``): what the uplink rule counts."""
    host = url.raw_host or ""
    return f"[{host}]:{url.port}" if ":" in host else f"{host}:{url.port}"
