"""One job shared by many crawler processes through Redis (``--frontier redis://host:port/db``).

:mod:`~crawler.cluster.store` connects, names the keys and retries an unreachable server;
:mod:`~crawler.cluster.scripts` holds the Lua that keeps every change atomic;
:class:`~crawler.frontier.redis.RedisFrontier` and
:class:`~crawler.scheduling.redis_limiter.RedisHostLimiter` implement the engine's contracts on it;
:mod:`~crawler.cluster.merge`, :mod:`~crawler.cluster.status` and :mod:`~crawler.cluster.workers`
are the user's commands around a shared job. The key layout is described in ``docs/cluster.md``.
"""
