"""The user's sink hooks (``on_record``, ``on_item``, ``on_content``), called by the engine once a
page's lines are written: user code at the end of the line, kept out of the crawl's lifecycle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawler.core.step import Final
from crawler.hooks import Hooks, failure
from crawler.hooks import call as call_hook
from crawler.observe.stats import Stats


async def call(hooks: Hooks, outcome: Final, stats: Stats, warn: Callable[[str], None]) -> None:
    """The user's ``on_record`` (the typed :class:`Record`), ``on_item`` and ``on_content`` (the
    page's ``content.jsonl`` line, also for a near-duplicate the job skips) with what was just
    written (already serialized, so a hook that changes them changes nothing on disk).
    Failures are counted; the first three are warned about; the crawl goes on."""
    record, content = outcome.record, outcome.content
    calls: list[tuple[Callable[[Any], Any] | None, Any]] = [(hooks.on_record, record)]
    calls += [(hooks.on_item, item) for item in outcome.items]
    if hooks.on_content is not None and content is not None:
        calls.append((hooks.on_content, content.line(record.url, record.final_url, record.crawl)))
    for fn, value in calls:
        if fn is None:
            continue
        try:
            await call_hook(fn, value)
        except Exception as e:  # user code
            stats.hook_failures += 1
            if stats.hook_failures <= 3:
                warn(f"{outcome.record.url}: {failure(fn, e)}")
