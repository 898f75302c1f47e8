"""Command line: ``crawler crawl``, ``run``, ``check``, ``status``, ``merge``, ``report``, ``bench``
and ``demo``. Thin: flags (:mod:`crawler.commands.options`) → Job → a command
(:mod:`crawler.commands`, imported when it runs).

Option values reach the Job schema as strings, so the CLI and YAML share one validator and one
error style. Exit codes: 0 crawl completed (even with failed URLs), 1 fatal error, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler import __version__
from crawler.commands.options import job_options, overrides_from
from crawler.core.errors import ClusterError, ConfigError, DemoError, StateError
from crawler.core.formats import RECORD_FORMAT, STATE_FORMAT

if TYPE_CHECKING:  # the crawl's modules load when a command runs, so --help and --version stay quick
    from crawler.config import Job


def make_job(file: Path | None, params: dict[str, Any], urls: tuple[str, ...] = ()) -> Job:
    """Build the Job from an optional YAML file, CLI params and CLI URLs (CLI wins)."""
    from crawler.hooks import Hooks
    from crawler.jobfile import build_job, load_yaml
    from crawler.jobfile import merge as merge_values

    file_data, lines = load_yaml(file) if file else ({}, {})
    cli, flags = overrides_from(params)
    if urls:
        cli["start_urls"] = list(urls)
    job = build_job(merge_values(file_data, cli), source=str(file) if file else "", lines=lines, flags=flags)
    Hooks.from_paths(job.hook_paths, base=file.parent.resolve() if file else None)  # refuse bad paths now
    return job


def execute(job: Job) -> int:
    """Run the crawl (:mod:`crawler.commands.crawl`, loaded now); return its exit code."""
    from crawler.commands import crawl

    return crawl.execute(job)


def _finish(code: int) -> NoReturn:
    """Exit without interpreter teardown. Freeing a finished crawl's objects one by one took
    0.1–0.17 s (measured on the benchmark corpus), and by now every file is closed and flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _fail(e: ConfigError) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


# `crawler --version`: the release, and the formats of the files it writes, which say whether another
# release's output can be resumed or read (CHANGELOG.md: what each promises).
VERSION_LINE = f"%(prog)s %(version)s (state format {STATE_FORMAT}, record format {RECORD_FORMAT})"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(
    __version__, prog_name="crawler", message=VERSION_LINE, help="Show the version and the file formats, and exit."
)
def main() -> None:
    """A fast, dependable web crawler: pages to disk, one JSON record per URL."""


@main.command()
@click.argument("urls", nargs=-1, required=True)
@job_options
def crawl(urls: tuple[str, ...], **params: Any) -> None:
    """Crawl from the given start URLs."""
    try:
        job = make_job(None, params, urls)
    except ConfigError as e:
        _fail(e)
    _finish(execute(job))


@main.command()
@click.argument("job_file", type=click.Path(path_type=Path))
@click.argument("urls", nargs=-1)
@job_options
def run(job_file: Path, urls: tuple[str, ...], **params: Any) -> None:
    """Run a YAML job file; options given here override the file, and URLs given after it
    replace its start_urls."""
    try:
        job = make_job(job_file, params, urls)
    except ConfigError as e:
        _fail(e)
    _finish(execute(job))


@main.command()
@click.argument("job_file", type=click.Path(path_type=Path))
@click.option("--url", help="Also fetch this page and show what the job's rules extract and follow.")
def check(job_file: Path, url: str | None) -> None:
    """Validate a YAML job file without crawling (and try it on one page with --url)."""
    from crawler.commands.check import check as check_job

    try:
        check_job(make_job(job_file, {}), url, click.echo)
    except ConfigError as e:
        _fail(e)


@main.command()
@click.option("--pages", default=5000, show_default=True, help="Pages to crawl.")
@click.option("--hosts", default=20, show_default=True, help="Host names on the synthetic site.")
@click.option("--links", default=60, show_default=True, help="Links per page.")
@click.option("--size", default=30_000, show_default=True, help="Bytes per page, about.")
@click.option("--concurrency", default=32, show_default=True)
@click.option("--per-host", default=8, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Keep the crawl output here.")
def bench(pages: int, hosts: int, links: int, size: int, concurrency: int, per_host: int, output: Path | None) -> None:
    """Crawl a local synthetic site and report pages/s, MB/s, CPU per page and peak RSS."""
    from crawler.bench import run_bench

    for flag, value in (
        ("--pages", pages),
        ("--hosts", hosts),
        ("--links", links),
        ("--size", size),
        ("--concurrency", concurrency),
        ("--per-host", per_host),
    ):
        if value < 1:
            _fail(ConfigError(f"{flag}: must be at least 1, not {value}"))

    result = run_bench(
        execute,
        pages=pages,
        hosts=hosts,
        links=links,
        size=size,
        concurrency=concurrency,
        per_host=per_host,
        output=output,
    )
    click.echo(result.report())


@main.command()
@click.argument("out")
def status(out: str) -> None:
    """Show the progress of a stopped or running crawl: its OUT directory, or a shared job's
    redis://HOST:PORT/DB/JOB."""
    import asyncio

    from crawler.commands.status import describe

    try:
        click.echo(asyncio.run(describe(out)))
    except ConfigError as e:
        _fail(e)
    except (StateError, ClusterError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


@main.command("merge")
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
def merge_command(out: Path) -> None:
    """Merge the shards of a shared job's workers (OUT/shards/*) into OUT/records.jsonl and
    items, one final record per URL."""
    from crawler.commands.merge import merge as merge_shards

    if not (out / "shards").is_dir():
        _fail(ConfigError(f"{out}: no shards/ here (not the output of a shared job)"))
    click.echo(merge_shards(out).summary(out))


@main.command()
@click.argument("out", type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "-o",
    "--output",
    "target",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write it [OUT/report.html].",
)
def report(out: Path, target: Path | None) -> None:
    """Write OUT/report.html: one self-contained page (charts, hosts, errors, slowest pages) about
    a finished, stopped, running or shared crawl. Opens offline in any browser."""
    from crawler.commands.report import build

    try:
        click.echo(f"report: {build(out, target)}")
    except OSError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(1)


@main.command()
@click.argument("job_file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Serve and crawl the site on this port instead of the job's."
)
@job_options
def demo(job_file: Path | None, port: int | None, **params: Any) -> None:
    """Serve the bundled sample site on 127.0.0.1 and crawl it (always fresh): with the job that
    ships with crawler, or with JOB_FILE. Works in any directory: the output goes to ./output/demo."""
    from crawler.demo.server import JOB, on_port, serve_and_crawl

    try:
        job = make_job(job_file or JOB, params)
        if port is not None:
            job = make_job(job_file or JOB, params, on_port(job.start_urls, port))
        sys.exit(serve_and_crawl(job.model_copy(update={"fresh": True}), execute))  # a demo starts over
    except (ConfigError, DemoError) as e:
        _fail(ConfigError(str(e)))
