"""The :class:`~crawler.core.step.Final` a visit ends with: its URL's one record, built in one
place from what the visit met (the request, the answer or the error that stopped it), and what the
visit leaves for the next re-crawl. Every way a visit ends writes the same fields so."""

from __future__ import annotations

import time
from collections.abc import Callable

from crawler.core.errors import FetchError, Kind
from crawler.core.record import Record
from crawler.core.request import Request
from crawler.core.response import Response
from crawler.core.step import Final
from crawler.recrawl import RecrawlSettings, visit_after


class Finals:
    """Makes the Final of each visit of one crawl (generation) of the job."""

    def __init__(self, generation: int, recrawl: RecrawlSettings) -> None:
        self._generation = generation
        self._recrawl = recrawl

    def final(
        self,
        request: Request,
        started: float,
        response: Response | None = None,
        error: FetchError | None = None,
        *,
        proxy: str | None = None,
        final_url: str | None = None,
        title: str | None = None,
    ) -> Final:
        """The record of ``request``, whose visit started at ``started`` (``perf_counter``)."""
        r = response
        record = Record(
            url=request.url,
            depth=request.depth,
            parent=request.parent,
            attempts=request.attempts.attempt + 1,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            final_url=final_url or (r.final_url or request.url if r is not None else None),
            status=r.status if r is not None else None,
            error=error,
            content_type=r.content_type if r is not None else None,
            bytes=r.nbytes if r is not None else 0,
            sha256=r.sha256 if r is not None else None,
            path=r.path if r is not None else None,
            title=title,
            proxy=proxy,
            crawl=self._generation,
            rendered=r.rendered if r is not None else False,
            transport=r.transport if r is not None else None,
            http_version=r.http_version if r is not None else None,
            meta=request.meta,
            priority=request.priority,
        )
        visit = visit_after(record, r.headers if r is not None else None, request.previous, self._recrawl)
        return Final(record, visit=visit)


def internal_error(request: Request, bug: Exception, redact: Callable[[str], str]) -> Record:
    """The record of a request that a bug of ours stopped: its URL still gets its one record."""
    return Record(
        url=request.url,
        depth=request.depth,
        parent=request.parent,
        attempts=request.attempts.attempt + 1,
        error=FetchError(Kind.INTERNAL, redact(f"{type(bug).__name__}: {bug}")),
        meta=request.meta,
        priority=request.priority,
    )
