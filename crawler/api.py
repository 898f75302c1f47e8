"""The Python entry point for scripts: ``crawl(job, parse=...) -> Stats``.

Inside an existing event loop, use ``await Crawl(job, hooks=Hooks(...)).run()`` instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from crawler.config import Job
from crawler.engine import Crawl
from crawler.hooks import ContentHook, Hooks, ItemHook, LoginHook, ParseHook, RecordHook, RequestHook
from crawler.jobfile import build_job
from crawler.observe.stats import Stats


def crawl(
    job: Job | Mapping[str, Any],
    *,
    parse: ParseHook | None = None,
    request: RequestHook | None = None,
    on_record: RecordHook | None = None,
    on_item: ItemHook | None = None,
    on_content: ContentHook | None = None,
    login: LoginHook | None = None,
) -> Stats:
    """Run ``job`` (a Job, or a mapping with the YAML keys) to the end and return its numbers.
    Hooks given here replace those the job names by dotted path. Raises ConfigError for a bad
    job, and the crawl's fatal errors (CheckpointError, StalledError, ClusterError, LockedError)."""
    job = job if isinstance(job, Job) else build_job(dict(job))
    named = Hooks.from_paths(job.hook_paths)
    hooks = Hooks(
        parse=parse or named.parse,
        request=request or named.request,
        on_record=on_record or named.on_record,
        on_item=on_item or named.on_item,
        on_content=on_content or named.on_content,
        login=login or named.login,
    )
    return asyncio.run(Crawl(job, hooks=hooks).run())
