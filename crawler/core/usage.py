"""What components tell the crawl's stats about their use of a resource, as data: proxies, hosts
the throttle slowed, the browser, a shared job's Redis, name lookups, identities and logins.
``crawler.observe.summary`` turns them into the summary's text; nothing else formats them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ProxyUse:
    """One proxy over the crawl."""

    id: str  # redacted: never holds credentials
    requests: int
    failures: int
    bans: int
    bytes: int
    state: str  # "ok", "cooling down (N failures in a row)" or "disabled: why"
    blocked: int = 0  # of the bans, blocked pages (blocked_when)


@dataclass(frozen=True, slots=True)
class Throttled:
    """A host the adaptive throttle (AIMD) slowed down, as it stands now."""

    host: str
    throttles: int  # times it was slowed
    least: int  # the fewest slots it was cut to
    limit: int  # the slots configured
    slots: int  # its slots now
    delay: float  # its delay now, seconds
    shared: bool = False  # counted over every worker of a shared job


@dataclass(frozen=True, slots=True)
class Throttling:
    """Hosts slowed down: the first ones in full, the rest only counted (a broad crawl has many)."""

    hosts: tuple[Throttled, ...] = ()
    more: int = 0


@dataclass(frozen=True, slots=True)
class BrowserUse:
    """The browser (``render:``): pages loaded, memory, and why it was started again."""

    pages: int
    peak_mb: float  # the most memory a reading found
    check_every: int  # pages between memory readings
    restarts: int  # replaced for growing past render_memory_mb
    relaunches: int  # launched again after a crash


@dataclass(frozen=True, slots=True)
class RedisUse:
    """A shared job's worker: which job and worker, and how many round trips to Redis it made."""

    job: str
    server: str  # the Redis URL, password redacted
    worker: str
    calls: int


@dataclass(slots=True)
class DnsUse:
    """The crawl's name lookups so far (counted live by the resolver, read by stats.jsonl, /metrics
    and the summary)."""

    servers: tuple[str, ...] = ()  # the job's nameservers; none: the system resolver
    lookups: int = 0  # questions asked (the cache could not answer)
    cached: int = 0  # answered from the cache, or by a lookup of the same name under way
    not_found: int = 0  # names that do not exist (NXDOMAIN) or have no address
    failures: int = 0  # timeouts and failing servers (retried as the URL's retries allow)
    seconds: float = 0.0  # time spent waiting for lookups, summed


RETIRED = ("max_uses", "banned", "blocked", "proxy")  # why identities leave the pool, as counted


@dataclass(slots=True)
class IdentityUse:
    """Identities made and retired, and logins, by this process (counted live by the identities
    and the login, read by stats.jsonl, /metrics and the summary), so a login that keeps failing
    or identities burnt through by bans can be seen."""

    login: bool = False  # the job logs in (login:): the summary says how that went
    made: int = 0
    # retired, by why: max_uses served, a ban signal, a blocked page, its proxy left or cooled down
    retired: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RETIRED, 0))
    logins: int = 0  # logins that worked
    relogins: int = 0  # of those, not the identity's first (its session had expired)
    login_failures: int = 0  # logins that did not (refused, still logged out after, the hook raised)
