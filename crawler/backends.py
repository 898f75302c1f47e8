"""Where a job's state lives: the frontier, the host limiter and the robots.txt cache it uses,
and the directory this process writes to. One process alone (memory or SQLite), or one worker of
a job shared through Redis, writing its own shard ``OUT/shards/<worker id>/``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from crawler.config import Job
from crawler.core.usage import RedisUse
from crawler.frontier import Frontier
from crawler.net.robots import RobotsCache
from crawler.scheduling.limiter import HostLimiter, LocalHostLimiter


@dataclass(slots=True)
class Backends:
    frontier: Frontier
    limiter: HostLimiter
    robots: RobotsCache | None  # shared robots.txt answers (None: this process asks on its own)
    out: Path  # this process's output directory
    redis_use: Callable[[], RedisUse | None] = field(default=lambda: None)  # a shared job's, for the summary
    claim: Callable[[], Awaitable[None]] | None = None  # before anything is cleared: the shared state is this job's


def shard_dir(job: Job, worker: str) -> Path:
    return job.output_dir / "shards" / worker


def make_backends(job: Job, warn: Callable[[str], None]) -> Backends:
    """The backends the job's ``frontier`` setting names."""
    if job.shared:
        from crawler.redis.frontier import RedisFrontier
        from crawler.redis.identity import claim
        from crawler.redis.limiter import RedisHostLimiter
        from crawler.redis.store import RedisStore, SharedRobots, default_worker_id

        worker = job.worker_id or default_worker_id()
        store = RedisStore(job.frontier, job.job_name, worker, ttl=job.lease_ttl, wait=job.redis_wait, warn=warn)
        out = shard_dir(job, worker)
        return Backends(
            RedisFrontier(store, out / "records.jsonl"),
            RedisHostLimiter(store, job.per_host, job.delay, job.jitter, adaptive=job.adaptive),
            SharedRobots(store),
            out,
            store.usage,
            lambda: claim(store, job),
        )
    out = job.output_dir
    limiter = LocalHostLimiter(job.per_host, job.delay, job.jitter, adaptive=job.adaptive)
    if job.frontier == "memory":
        from crawler.frontier.memory import MemoryFrontier

        return Backends(MemoryFrontier(), limiter, None, out)
    from crawler.frontier.sqlite import SqliteFrontier

    return Backends(SqliteFrontier(out / "state.sqlite", out / "records.jsonl"), limiter, None, out)
