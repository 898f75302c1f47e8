"""The crawl command's body: run a job in this process (signals drain it; the summary is printed;
errors become exit codes), or as ``--processes N`` workers of a shared job."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys

import click

from crawler.config import Job
from crawler.core.errors import (
    CheckpointError,
    ClusterError,
    ConfigError,
    LockedError,
    RenderUnavailable,
    StalledError,
    StateError,
)
from crawler.engine import Crawl
from crawler.observe.stats import Progress, Stats
from crawler.observe.summary import summary


def execute(job: Job) -> int:
    """Run a crawl to completion in this process; print the summary; return the exit code."""

    def warn(message: str) -> None:
        progress.clear()
        click.echo(f"warning: {message}", err=True)

    if job.processes > 1:
        from crawler.commands.workers import run_workers, worker_settings  # redis-py: a shared job only

        return run_workers(worker_settings(job), sys.argv[1:], lambda line: click.echo(line, err=True))
    progress = Progress(mode="off" if job.quiet else job.progress)
    crawl = Crawl(job, warn=warn, progress=progress)
    try:
        stats = _run_loop(crawl)
    except KeyboardInterrupt:
        click.echo("interrupted twice: stopped without draining", err=True)
        return 130
    except ConfigError as e:  # found once the crawl starts using it (the metrics address)
        click.echo(f"error: {e}", err=True)
        return 2
    except (StateError, LockedError, CheckpointError, StalledError, ClusterError, RenderUnavailable) as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except OSError as e:
        click.echo(f"error: {e.strerror or e}: {getattr(e, 'filename', '') or ''}".rstrip(": "), err=True)
        return 1
    if not job.quiet:
        click.echo(summary(stats, str(crawl.parts.out)), err=True)
    return 130 if stats.interrupted else 0


GC_THRESHOLDS = (20_000, 20, 20)  # young objects collected every 20,000 allocations, not 700
GC_FULL_EVERY = 30.0  # seconds between full collections


def _tune_gc() -> None:
    """What is alive now (modules, the job's parts) lives as long as the process: frozen, the
    collector never walks it again, and the forked parser process keeps sharing its memory pages.
    A crawl makes short-lived objects by the thousand per page; collecting them less often took
    the collector from ~8% of a broad crawl's time to under 1% (benchmarks/results/2026-12-06-million.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def _collect_old() -> None:
    """Closed connections are garbage in reference cycles (an asyncio transport holds bound methods
    of itself) that aged into the oldest generation while in use; under the thresholds above a full
    collection is rare, so they piled up for the whole crawl. One every GC_FULL_EVERY seconds
    keeps them bounded (~0.2 s of the loop's time each at a million URLs)."""
    while True:
        await asyncio.sleep(GC_FULL_EVERY)
        gc.collect()


def _run_loop(crawl: Crawl) -> Stats:
    _tune_gc()

    async def main() -> Stats:
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            """Ctrl-C, or SIGTERM from systemd or a container runtime: drain, then stop."""
            crawl.stop()
            loop.remove_signal_handler(sig)  # a second one stops at once
            again = "Ctrl-C" if sig is signal.SIGINT else "SIGTERM"
            click.echo(f"\nstopping: finishing requests in flight ({again} again to abort)", err=True)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        collector = asyncio.create_task(_collect_old())
        try:
            return await crawl.run()
        finally:
            collector.cancel()

    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]  # optional: the "speed" extra
    except ImportError:
        return asyncio.run(main())
    stats: Stats = uvloop.run(main())
    return stats
