"""The connection to a shared job: its Redis client, its key names, its retries and its heartbeat.

Every call goes through :meth:`RedisStore.call`: while Redis is unreachable (down, restarting,
loading its data) the call is retried with back-off for ``wait`` seconds, then fails with one
:class:`~crawler.core.errors.ClusterError` line. The password in the URL is never shown: messages use
:func:`redact`. The heartbeat keeps this worker's leases and host slots alive (``ttl``) and
says the worker is alive, for ``crawler status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote_plus

from redis import exceptions as rx
from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from crawler.core.errors import ClusterError, ConfigError
from crawler.core.proxy_url import redact_url
from crawler.core.usage import RedisUse
from crawler.redis import scripts

T = TypeVar("T")
TLS_HINT = (
    "rediss:// needs a server certificate this machine trusts: a private CA's file can be given "
    "with SSL_CERT_FILE=ca.pem; redis:// is for servers without TLS"
)
UNREACHABLE = (rx.ConnectionError, rx.TimeoutError, ConnectionError, OSError)


def redact(url: str) -> str:
    """The Redis URL as it may be shown: its user info and every query value redis-py reads as a
    credential (``password=``, ``username=``, ``ssl_password=``…) are ``***``."""
    return redact_url(_CREDENTIAL_PARAM.sub(_hide_value, url))


_CREDENTIAL_PARAM = re.compile(r"(?<=[?&])([^&=]*)=[^&]*")


def _hide_value(param: re.Match[str]) -> str:
    name = unquote_plus(param[1]).lower()
    return f"{param[1]}=***" if "pass" in name or "user" in name else param[0]


def default_worker_id() -> str:
    """host + pid: unique among live processes, on one machine or many."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Keys:
    """Key names of one job. Keys of one host carry ``{host}`` as their hash tag."""

    def __init__(self, job: str) -> None:
        p = self.prefix = f"crawler:{job}:"
        self.meta = p + "meta"  # hash: queued, leased, admitted, done, lease_seq
        self.seen = p + "seen"  # set of 8-byte URL fingerprints
        self.hosts = p + "hosts"  # set: hosts with queued requests
        self.host_admitted = p + "host_admitted"  # hash host → URLs admitted (max_pages_per_host)
        self.host_done = p + "host_done"  # hash host → URLs done
        self.leases = p + "leases"  # hash lease id → "worker\\nrequest"
        self.expiry = p + "expiry"  # sorted set lease id → expiry (ms, Redis clock)
        self.workers = p + "workers"  # hash worker → "last seen ms pid host"
        self.worker_done = p + "worker_done"  # hash worker → URLs done
        self.job = p + "job"  # hash: fingerprint and summary of what defines the job (redis/identity.py)
        self.near_firsts = p + "near_firsts"  # hash 8-byte SimHash → the first URL with it (redis/near_duplicates.py)
        self.near_blocks = p + "near_blocks"  # hash block and its value → the 8-byte SimHashes filed there
        self.identities = p + "identities"  # hash "slot route" → an identity's JSON (redis/identity_pool.py)
        self.identity_uses = p + "identity_uses"  # hash identity id → requests made as it
        self.identity_seq = p + "identity_seq"  # the last identity id given

    def queue(self, host: str) -> str:
        """List: the host's queued requests of priority 0, oldest first."""
        return f"{self.prefix}q:{{{host}}}"

    def ranked(self, host: str) -> str:
        """Sorted set: the host's queued requests of any other priority (see ``scripts.ADD``)."""
        return f"{self.prefix}p:{{{host}}}"

    def state(self, host: str) -> str:
        return f"{self.prefix}h:{{{host}}}"

    def slots(self, host: str) -> str:
        return f"{self.prefix}s:{{{host}}}"

    def robots(self, host: str) -> str:
        return f"{self.prefix}r:{{{host}}}"


class RedisStore:
    """One process's connection to one shared job."""

    def __init__(
        self, url: str, job: str, worker: str, *, ttl: float, wait: float, warn: Callable[[str], None] = lambda _: None
    ) -> None:
        self.shown = redact(url)
        self.job = job
        self.worker = worker
        self.ttl = ttl
        self.wait = wait
        self.keys = Keys(job)
        self._warn = warn
        self.redis: Redis = Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=max(10.0, ttl)
        )
        self.scripts: dict[str, AsyncScript] = {
            name: self.redis.register_script(getattr(scripts, name))
            for name in (
                "ADD",
                "LEASE",
                "REQUEUE",
                "DONE",
                "EXPIRED",
                "HEARTBEAT",
                "ACQUIRE",
                "HOLD",
                "RELEASE",
                "NEXT_GENERATION",
                "CLAIM",
                "NEAR_FIRST",
                "IDENTITY_USE",
                "IDENTITY_RETIRE",
                "IDENTITY_SAVE",
            )
        }
        self.renewals: list[Callable[[], tuple[list[str], list[str]]]] = []  # → (lease ids, slot keys+tokens)
        self.before_close: list[Callable[[], Awaitable[None]]] = []  # last words to Redis
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._outage_since: float | None = None
        self.calls = 0  # round trips to Redis (for the summary and the benchmark)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()``, retried while Redis is unreachable, at most ``wait`` seconds."""
        pause = 0.05
        while True:
            self.calls += 1
            try:
                result = await fn()
            except rx.AuthenticationError as e:
                raise ClusterError(
                    f"Redis at {self.shown} refused our credentials ({e}); check the password in the frontier URL"
                ) from None
            except rx.ResponseError as e:
                if "NOAUTH" in str(e) or "WRONGPASS" in str(e):
                    raise ClusterError(
                        f"Redis at {self.shown} needs a password ({e}); give it in the frontier "
                        "URL: redis://:PASSWORD@host:port/db"
                    ) from None
                if "DB index is out of range" in str(e):  # a bad --frontier value, found on connecting
                    raise ConfigError(f"--frontier: Redis at {self.shown} has no such database ({e})") from None
                raise
            except UNREACHABLE as e:
                if "CERTIFICATE_VERIFY_FAILED" in str(e):
                    raise ClusterError(
                        f"Redis at {self.shown}: TLS failed ({_reason(e)}); {TLS_HINT}"
                    ) from None  # retrying will not mend it
                now = time.monotonic()
                if self._outage_since is None:
                    self._outage_since = now
                    self._warn(f"Redis at {self.shown} unreachable ({_reason(e)}); retrying for up to {self.wait:g}s")
                if now - self._outage_since >= self.wait:
                    raise ClusterError(
                        f"Redis at {self.shown} unreachable for {self.wait:g}s ({_reason(e)}); "
                        "stopped; what this worker wrote is kept; run the same command "
                        "again to continue"
                    ) from None
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            if self._outage_since is not None:
                self._outage_since = None
                self._warn(f"Redis at {self.shown} is back")
            return result

    def usage(self) -> RedisUse:
        """For the summary: which job and worker, and how hard this worker used Redis."""
        return RedisUse(self.job, self.shown, self.worker, self.calls)

    async def script(self, name: str, keys: list[str], args: list[Any]) -> Any:
        return await self.call(lambda: self.scripts[name](keys=keys, args=args))

    async def clear(self) -> None:
        """Forget the whole job (``--fresh``): every key under its prefix, and no other job's (a
        name from a seed's host may hold ``*`` or ``?``, which SCAN would read as a pattern)."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.keys.prefix) + "*"

        async def delete() -> None:
            batch: list[str] = []
            async for key in self.redis.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    await self.redis.unlink(*batch)
                    batch.clear()
            if batch:
                await self.redis.unlink(*batch)

        await self.call(delete)

    def start_heartbeat(self) -> None:
        if self._heartbeat is None:
            self._heartbeat = asyncio.ensure_future(self._beat_forever())

    async def beat(self) -> None:
        """Renew every lease and slot this worker holds, and say it is alive."""
        ids: list[str] = []
        slot_keys: list[str] = []
        tokens: list[str] = []
        for renewal in self.renewals:
            lease_ids, slots = renewal()
            ids += lease_ids
            slot_keys += slots[0::2]
            tokens += slots[1::2]
        info = f"{os.getpid()} {socket.gethostname()}"
        await self.script(
            "HEARTBEAT",
            [self.keys.expiry, self.keys.workers, *slot_keys],
            [round(self.ttl * 1000), self.worker, info, len(ids), *ids, *tokens],
        )

    async def _beat_forever(self) -> None:
        interval = max(0.2, self.ttl / 3)
        while not self._stopping.is_set():
            with contextlib.suppress(ClusterError):  # the calls that need Redis report its loss
                await self.beat()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), interval)

    async def close(self) -> None:
        """Last words (parked slots), stop the heartbeat between beats (a command cancelled
        half-way can leave its connection unusable), leave the worker list, disconnect."""
        with contextlib.suppress(ClusterError):
            for last_words in self.before_close:
                await last_words()
        if self._heartbeat is not None:
            self._stopping.set()
            await self._heartbeat
            self._heartbeat = None
        with contextlib.suppress(*UNREACHABLE, TimeoutError):
            await asyncio.wait_for(self.redis.hdel(self.keys.workers, self.worker), 5)
        await self.redis.aclose()


def _reason(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:200]


class SharedRobots:
    """The :class:`~crawler.net.robots.RobotsCache` of a shared job: one key per host."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store

    async def get(self, host: str) -> str | None:
        key = self._store.keys.robots(host)
        value = await self._store.call(lambda: self._store.redis.get(key))
        return None if value is None else str(value)

    async def put(self, host: str, value: str, ttl: float) -> None:
        key = self._store.keys.robots(host)
        await self._store.call(lambda: self._store.redis.set(key, value, px=max(1, round(ttl * 1000))))
