"""One job shared by many crawler processes through Redis (``--frontier redis://host:port/db``).

:mod:`~crawler.redis.store` connects, names the keys and retries an unreachable server;
:mod:`~crawler.redis.scripts` holds the Lua that keeps every change atomic;
:class:`~crawler.redis.frontier.RedisFrontier` and :class:`~crawler.redis.limiter.RedisHostLimiter`
implement the engine's contracts on it; :mod:`~crawler.redis.identity` keeps one job one job.
The commands around a shared job (``--processes``, ``merge``, ``status``) are in
:mod:`crawler.commands`. The key layout is described in ``docs/cluster.md``.

Inside this package ``import redis`` is still the redis-py library: imports are absolute.
"""
