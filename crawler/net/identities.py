"""Identities (``identities:``): a proxy, a cookie jar, headers and a browser target kept together,
so the pages fetched as one identity look like one visitor's.

The pipeline leases an identity for each request where it would otherwise take a proxy
(:meth:`Identities.lease`) and fetches through it (:meth:`Identities.fetch`: logged in first when
the job's login covers the URL, checked after). An identity's proxy is chosen once, when it is
made; its cookies go out of its jar and answers' ``Set-Cookie`` come back into it, on either
transport. It serves at most ``max_uses`` requests; one that is blocked (:meth:`Identities.blocked`:
a ban signal, or a challenge page) is retired at once, and another is made in its slot.

The pool is ``pool`` slots per route (the proxy pool a request goes through, or direct) in a
:class:`Book`: a crawl alone keeps it in memory and in ``state.sqlite`` at each checkpoint
(:class:`LocalBook`), a shared job in Redis (:mod:`crawler.redis.identity_pool`), where every
worker leases from the same identities and sees the cookies another saved at its next lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from yarl import URL

from crawler.core.blocked import blocked_page
from crawler.core.errors import FetchError, Kind
from crawler.core.response import Response
from crawler.core.usage import IdentityUse
from crawler.net.cookies import Jar
from crawler.net.proxies import NoProxy, Pool, Proxy, Router

if TYPE_CHECKING:
    from crawler.net.login import Login

DIRECT = "direct"  # the route of requests that go through no proxy
LEASE_TRIES = 100  # reads of the pool for one lease (each miss is another worker's change)
BOOK_KEY = "identities"  # its key in state.sqlite's job table


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    pool: int  # identities per route
    max_uses: int | None = None  # requests an identity serves before it is retired
    user_agents: tuple[str, ...] = ()  # one per identity, in turn
    impersonate: tuple[str, ...] = ()  # browser targets (curl), one per identity, in turn


@dataclass(eq=False)
class Identity:
    """One visitor: the data saved in the pool (:meth:`dump`), and the lock its logins take."""

    id: int
    route: str
    slot: int
    proxy: Proxy | None
    headers: dict[str, str] = field(repr=False)  # User-Agent, and what a login hook set
    impersonate: str | None
    jar: Jar = field(repr=False)
    logged_in: bool = False
    epoch: int = 0  # logins so far: a page sent before the latest login cannot undo it
    stranded: bool = False  # its proxy is not in its route's pool any more
    text: str = field(default="", init=False, repr=False)  # the pool's copy, as last read or saved
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)
    _saved: tuple[int, bool, int] = field(default=(0, False, 0), init=False, repr=False)

    def dump(self) -> str:
        """The identity as the pool keeps it (``id`` first: the Redis scripts read it there)."""
        data = {
            "id": self.id,
            "proxy": self.proxy.id if self.proxy is not None else None,
            "headers": self.headers,
            "impersonate": self.impersonate,
            "cookies": self.jar.data(),
            "logged_in": self.logged_in,
            "epoch": self.epoch,
        }
        return orjson.dumps(data).decode()

    def load(self, text: str, data: Mapping[str, Any]) -> None:
        """Take the state another worker saved (its cookies, its login)."""
        self.headers = dict(data["headers"])
        self.jar.load(data["cookies"])
        self.logged_in, self.epoch = bool(data["logged_in"]), int(data["epoch"])
        self.saved(text)

    def saved(self, text: str) -> None:
        self.text, self._saved = text, (self.jar.changes, self.logged_in, self.epoch)

    @property
    def dirty(self) -> bool:
        """Changed since the pool's copy: new cookies, logged in or out."""
        return (self.jar.changes, self.logged_in, self.epoch) != self._saved


class Book(Protocol):
    """Where a pool of identities is kept: slots per route, each holding one identity's JSON, and
    every identity's count of uses. Writes name the identity, so one retired meanwhile (by another
    worker) is never written back."""

    async def read(self, route: str) -> tuple[Mapping[int, str], Mapping[int, int]]:
        """The route's slots (slot → identity) and the uses of identities (id → requests)."""
        ...

    async def new_id(self) -> int: ...

    async def claim(self, route: str, slot: int, text: str) -> bool:
        """Put a new identity in an empty slot; False if another was put there first."""
        ...

    async def use(self, route: str, slot: int, ident: int, max_uses: int) -> int:
        """Count one request of the identity: its uses now, 0 when it left its slot meanwhile.
        The use that reaches ``max_uses`` (0: no limit) empties the slot."""
        ...

    async def retire(self, route: str, slot: int, ident: int) -> bool:
        """Empty the identity's slot; False if it had left it already (another request or worker
        retired it: counted there)."""
        ...

    async def save(self, route: str, slot: int, ident: int, text: str) -> None: ...


class Identities:
    """The crawl's identities: leased per request, logged in when the job says so, retired when
    blocked or used up. ``use`` counts the identities this process made and retired."""

    def __init__(
        self,
        settings: IdentitySettings,
        router: Router,
        book: Book,
        login: Login | None = None,
        use: IdentityUse | None = None,
    ) -> None:
        self._settings = settings
        self._router = router
        self._book = book
        self._login = login
        self.use = use or IdentityUse(login=login is not None)
        self._live: dict[tuple[str, int], Identity] = {}  # by route and slot: at most the pool's size

    async def lease(self, url: URL, choice: str | None = None) -> Identity:
        """An identity for a request to ``url`` (through the route the host takes, or the request
        hook's ``choice``), its proxy taken (the pipeline releases it, as any request's). Raises
        NoProxy when no identity's proxy is usable now and no other proxy is either."""
        host = url.host or ""
        pool = self._router.pool_for(host, choice)
        route = pool.name if pool is not None else DIRECT
        for _ in range(LEASE_TRIES):
            slots, uses = await self._book.read(route)
            identity = await self._pick(route, slots, uses, pool, host)
            if identity is not None and (n := await self._book.use(route, identity.slot, identity.id, self._max_uses)):
                if self._max_uses and n >= self._max_uses:  # (this use emptied its slot)
                    self.use.retired["max_uses"] += 1
                if identity.proxy is not None:
                    self._router.hold(identity.proxy)
                return identity
        raise RuntimeError(f"identities: no lease of route {route!r} after {LEASE_TRIES} reads")

    async def fetch(self, identity: Identity, url: URL, fetch: Callable[[], Awaitable[Response]]) -> Response:
        """``fetch()`` as ``identity``: logged in first when the login covers ``url``, checked
        after; a page that looks logged out comes back with a retryable ``login`` error (the
        identity logs in again before its next covered request). A ban or a blocked answer
        retires the identity."""
        login = self._login if self._login is not None and self._login.covers(url) else None
        try:
            epoch = await login.ready(identity) if login is not None else 0
            response = await fetch()
        except FetchError as e:
            await (self.blocked(identity, _why(e)) if e.banned else self._keep(identity))
            raise
        response.identity = identity.id
        if response.error is not None and response.error.banned:  # a blocked page (blocked_when)
            await self.blocked(identity, _why(response.error))
            return response
        if login is not None and response.error is None and not login.holds(url, response):
            if (why := login.challenge(response)) is not None:  # a bot wall, not a logged-out page
                response.error = blocked_page(why)
                await self.blocked(identity)
                return response
            login.expired(identity, epoch)  # (tried again at once: the login is what it waits for)
            response.error = FetchError(
                Kind.LOGIN, "the page looks logged out (login.check)", retryable=True, retry_after=0
            )
        await self._keep(identity)
        return response

    async def rendered(self, identity: Identity, render: Callable[[], Awaitable[Response]]) -> Response:
        """``render()`` through ``identity``'s proxy: the browser keeps its own cookies (nothing to
        save), but a ban or a blocked page retires the identity, as for a fetch."""
        try:
            response = await render()
        except FetchError as e:
            if e.banned:
                await self.blocked(identity, _why(e))
            raise
        response.identity = identity.id
        if response.error is not None and response.error.banned:  # a blocked page (blocked_when)
            await self.blocked(identity, _why(response.error))
        return response

    async def blocked(self, identity: Identity, why: str = "blocked") -> None:
        """This attempt was blocked as ``identity`` (``why``: a blocked page, or ``banned``: a ban
        signal): it is retired now (its slot gets a new one), so the request's next attempt goes
        as another."""
        await self._retire(identity, why)

    async def _retire(self, identity: Identity, why: str) -> None:
        """Take ``identity`` out of the pool, counted under ``why`` unless it had left already."""
        self._live.pop((identity.route, identity.slot), None)
        if await self._book.retire(identity.route, identity.slot, identity.id):
            self.use.retired[why] += 1

    @property
    def _max_uses(self) -> int:
        return self._settings.max_uses or 0

    async def _keep(self, identity: Identity) -> None:
        """Save what changed (cookies, login), for the checkpoint and for the other workers."""
        if identity.dirty:
            text = identity.dump()
            await self._book.save(identity.route, identity.slot, identity.id, text)
            identity.saved(text)

    async def _pick(
        self, route: str, slots: Mapping[int, str], uses: Mapping[int, int], pool: Pool | None, host: str
    ) -> Identity | None:
        """The identity to use (the least used whose proxy is usable), a new one in an empty slot,
        or None when the pool changed (read it again). Identities whose proxy left the job are
        retired; when every proxy of theirs cools down, one makes way for a new identity."""
        for slot in range(self._settings.pool):
            if slot not in slots:
                return await self._make(route, slot, pool, host)
        ready: list[Identity] = []
        cooling: list[Identity] = []
        now = asyncio.get_running_loop().time()
        for slot in range(self._settings.pool):
            identity = self._identity(route, slot, slots[slot], pool)
            proxy = identity.proxy
            if identity.stranded or (proxy is not None and proxy.dead):
                await self._retire(identity, "proxy")
                return None
            if proxy is None or pool is None or pool.ready(proxy, now):
                ready.append(identity)
            elif proxy.cooling_until > now:
                cooling.append(identity)
        if ready:
            return min(ready, key=lambda i: (uses.get(i.id, 0), i.id))
        assert pool is not None  # (without a proxy, every identity is ready)
        if not cooling:  # every proxy at its concurrency cap: wait for one
            raise NoProxy(pool, now, self._router.wait)
        self._router.pick(pool, host)  # NoProxy unless another proxy is usable now
        await self._retire(cooling[0], "proxy")
        return None

    async def _make(self, route: str, slot: int, pool: Pool | None, host: str) -> Identity | None:
        """A new identity in ``slot``, with a proxy of ``pool`` (by its rotation); None if another
        worker filled the slot first."""
        proxy = self._router.pick(pool, host) if pool is not None else None
        ident = await self._book.new_id()
        s = self._settings
        headers = {"User-Agent": s.user_agents[ident % len(s.user_agents)]} if s.user_agents else {}
        impersonate = s.impersonate[ident % len(s.impersonate)] if s.impersonate else None
        identity = Identity(ident, route, slot, proxy, headers, impersonate, Jar())
        identity.saved(identity.dump())
        if not await self._book.claim(route, slot, identity.text):
            return None
        self.use.made += 1
        self._live[(route, slot)] = identity
        return identity

    def _identity(self, route: str, slot: int, text: str, pool: Pool | None) -> Identity:
        """The live identity of a slot, brought up to date when the pool's copy changed."""
        live = self._live.get((route, slot))
        if live is not None and live.text == text:
            return live
        data = orjson.loads(text)
        if live is None or live.id != data["id"]:
            proxy = next((p for p in pool.proxies if p.id == data["proxy"]), None) if pool is not None else None
            stranded = data["proxy"] is not None and proxy is None
            live = Identity(data["id"], route, slot, proxy, {}, data["impersonate"], Jar(), stranded=stranded)
            self._live[(route, slot)] = live
        live.load(text, data)
        return live


class Saved(Protocol):
    """Where a crawl alone keeps other parts' state with its own (state.sqlite's job table)."""

    def kept(self, key: str) -> str | None:
        """The value saved under ``key`` by an earlier run (the store is open)."""
        ...

    def keep(self, key: str, snapshot: Callable[[bool], str | None]) -> None:
        """Save ``snapshot(final)`` under ``key`` at every commit (None: nothing to save now;
        ``final``: the last commit, at close)."""
        ...


class LocalBook:
    """The pool of a crawl that runs alone: in memory, and in ``saved`` (state.sqlite) at each
    checkpoint, so a resumed crawl goes on as the same visitors."""

    def __init__(self, saved: Saved | None = None) -> None:
        self._saved = saved
        self._slots: dict[str, dict[int, str]] = {}
        self._uses: dict[int, int] = {}
        self._last = 0  # the last id given
        self._opened = saved is None
        self._changed = False
        if saved is not None:
            saved.keep(BOOK_KEY, self._snapshot)

    async def read(self, route: str) -> tuple[Mapping[int, str], Mapping[int, int]]:
        self._open()
        return self._slots.get(route, {}), self._uses

    async def new_id(self) -> int:
        self._open()
        self._last += 1
        self._changed = True
        return self._last

    async def claim(self, route: str, slot: int, text: str) -> bool:
        slots = self._slots.setdefault(route, {})
        if slot in slots:
            return False
        slots[slot] = text
        self._changed = True
        return True

    async def use(self, route: str, slot: int, ident: int, max_uses: int) -> int:
        if not self._holds(route, slot, ident):
            return 0
        n = self._uses[ident] = self._uses.get(ident, 0) + 1
        if max_uses and n >= max_uses:
            await self.retire(route, slot, ident)
        self._changed = True
        return n

    async def retire(self, route: str, slot: int, ident: int) -> bool:
        if not self._holds(route, slot, ident):
            return False
        del self._slots[route][slot]
        self._uses.pop(ident, None)
        self._changed = True
        return True

    async def save(self, route: str, slot: int, ident: int, text: str) -> None:
        if self._holds(route, slot, ident):
            self._slots[route][slot] = text
            self._changed = True

    def _holds(self, route: str, slot: int, ident: int) -> bool:
        text = self._slots.get(route, {}).get(slot)
        return text is not None and id_of(text) == ident

    def _open(self) -> None:
        """Read the pool an earlier run saved (on first use: the frontier is open by then)."""
        if self._opened or self._saved is None:
            return
        self._opened = True
        text = self._saved.kept(BOOK_KEY)
        if text:
            data = orjson.loads(text)
            self._last = data["last"]
            self._slots = {route: {int(n): t for n, t in slots.items()} for route, slots in data["slots"].items()}
            self._uses = {int(i): n for i, n in data["uses"].items()}

    def _snapshot(self, final: bool) -> str | None:  # (saved whenever it changed: final or not)
        if not self._changed:
            return None
        self._changed = False
        data = {"last": self._last, "slots": self._slots, "uses": self._uses}
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS).decode()


def _why(error: FetchError) -> str:
    """Why a ban retires an identity: a blocked page (``blocked_when``), or a proxy's ban signal."""
    return "blocked" if error.kind is Kind.BLOCKED else "banned"


def id_of(text: str) -> int:
    """The id of an identity's JSON, read without parsing the rest (its cookies): ``{"id":7,``."""
    return int(text[6 : text.index(",")])
