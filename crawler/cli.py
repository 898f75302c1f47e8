"""Command line: ``crawler crawl``, ``run``, ``check``, ``status``, ``merge``, ``report``, ``bench``
and ``demo``. Thin: flags → Job → a command (:mod:`crawler.commands`, imported when it runs).

Option values reach the Job schema as strings, so the CLI and YAML share one validator and one
error style. Exit codes: 0 crawl completed (even with failed URLs), 1 fatal error, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler import __version__
from crawler.core.errors import ClusterError, ConfigError, DemoError, StateError
from crawler.core.formats import RECORD_FORMAT, STATE_FORMAT

if TYPE_CHECKING:  # the crawl's modules load when a command runs, so --help and --version stay quick
    from crawler.config import Job

# (option decls, Job field, kind) — kind: "value", "list", "flag", "header", "cookie", "timeout.X"
OPTIONS: list[tuple[tuple[str, ...], str, str, str]] = [
    (("-o", "--output"), "output", "value", "Output directory (default output/<job name>)."),
    (("--name",), "name", "value", "Job name (default: the first start URL's host)."),
    (("--concurrency",), "concurrency", "value", "Requests in flight across all hosts [16]."),
    (("--per-host",), "per_host", "value", "Requests in flight per target host [2]."),
    (("--delay",), "delay", "value", "Seconds between request starts on one host [0]."),
    (("--jitter",), "jitter", "value", "Random extra delay, up to this many seconds [0]."),
    (("--adaptive/--no-adaptive",), "adaptive", "switch", "Slow down hosts that signal overload [on]."),
    (("-H", "--header"), "headers", "header", "Extra header 'Name: value' (repeatable)."),
    (("--cookie",), "cookies", "cookie", "Cookie 'name=value' sent with every request (repeatable)."),
    (("--user-agent",), "user_agent", "value", "User-Agent header."),
    (("--timeout",), "timeout", "timeout.total", "Total seconds per request [60]."),
    (("--connect-timeout",), "timeout", "timeout.connect", "Seconds to connect [10]."),
    (("--read-timeout",), "timeout", "timeout.read", "Seconds per socket read [30]."),
    (("--retries",), "retries", "value", "Retries for timeouts, connection errors, 5xx, 429 [2]."),
    (("--max-redirects",), "max_redirects", "value", "Redirect hops followed from one URL [10]."),
    (("--max-bytes",), "max_bytes", "value", "Largest decoded body kept, in bytes [50000000]."),
    (("--max-pages",), "max_pages", "value", "Stop after this many URLs (each gets a record)."),
    (("--max-depth",), "max_depth", "value", "Follow links at most this many hops from a seed."),
    (("--max-pages-per-host",), "max_pages_per_host", "value", "At most this many URLs per host (trap guard)."),
    (("--max-url-length",), "max_url_length", "value", "Longer links are not followed [2048]."),
    (("--allow-domain",), "allow_domains", "list", "Domain (with subdomains) in scope (repeatable)."),
    (("--include",), "include", "list", "Regex a URL must match to be followed (repeatable)."),
    (("--exclude",), "exclude", "list", "Regex that keeps a URL out (repeatable)."),
    (("--resolve",), "resolve", "list", "Pin HOST:PORT:ADDRESS, curl syntax (repeatable)."),
    (("--dns-server",), "dns_servers", "list", "Resolve names by asking this IP[:PORT] (repeatable)."),
    (("--dns-cache",), "dns_cache", "value", "Names whose DNS answers are kept [10000]."),
    (("--dns-timeout",), "timeout", "timeout.dns", "Seconds per try at a --dns-server [2]."),
    (("--ignore-robots",), "ignore_robots", "flag", "Do not fetch or obey robots.txt."),
    (("--sitemaps",), "sitemaps", "flag", "Seed from robots.txt Sitemap: lines and /sitemap.xml."),
    (("--parse",), "parse", "value", "Parse hook 'package.module:function': yields items and page.follow(url)."),
    (
        ("--request-hook",),
        "request",
        "value",
        "Hook 'package.module:function' that may set headers and cookies of each request before it is sent.",
    ),
    (("--on-record",), "on_record", "value", "Hook 'package.module:function' called with every record."),
    (("--on-item",), "on_item", "value", "Hook 'package.module:function' called with every item."),
    (
        ("--on-content",),
        "on_content",
        "value",
        "Hook 'package.module:function' called with every content line (needs --content).",
    ),
    (
        ("--content",),
        "content",
        "list",
        "Write each HTML page's main content to OUT/content.jsonl: markdown, text, or markdown,text.",
    ),
    (
        ("--main-content/--whole-page",),
        "main_content",
        "switch",
        "Content is the page's main region (boilerplate removed), or its whole body [main].",
    ),
    (("--prefer-markdown",), "prefer_markdown", "flag", "Ask for text/markdown first; take Markdown answers as is."),
    (("--near-duplicates",), "near_duplicates", "value", "mark (default), skip (no content line) or off."),
    (("--chunks",), "chunks", "value", "Also write OUT/chunks.jsonl: WORDS or WORDS:OVERLAP (e.g. 400:50)."),
    (("--format",), "format", "value", "Items as jsonl (default, items.jsonl) or csv (items.csv)."),
    (("--warc",), "warc", "flag", "Also write OUT/crawl.warc.gz: every response as received."),
    (("--follow-nofollow",), "follow_nofollow", "flag", "Follow rel=nofollow links and pages."),
    (("-q", "--quiet"), "quiet", "flag", "No progress line and no summary."),
    (
        ("--progress",),
        "progress",
        "value",
        "auto (a live line on a terminal, else a log line every 10 s), tty, log or off [auto].",
    ),
    (("--metrics",), "metrics", "value", "Serve Prometheus metrics on ADDR:PORT (e.g. 127.0.0.1:9100)."),
    (
        ("--frontier",),
        "frontier",
        "value",
        "sqlite (default: resumable, OUT/state.sqlite), memory, or redis://[:PASSWORD@]HOST:PORT/DB to share "
        "the job with other processes (rediss:// for TLS).",
    ),
    (("--worker-id",), "worker_id", "value", "This worker's name in a shared job [host-pid]; pin it to resume."),
    (("--processes",), "processes", "value", "Run N workers of a shared job here, then merge their shards [1]."),
    (("--lease-ttl",), "lease_ttl", "value", "Seconds before a dead worker's URLs and slots are taken back [30]."),
    (("--redis-wait",), "redis_wait", "value", "Seconds to keep retrying an unreachable Redis before stopping [60]."),
    (
        ("--parser",),
        "parser",
        "value",
        "process (parse in a second process), inline, or auto [auto: process with 2+ CPUs].",
    ),
    (
        ("--fresh/--no-fresh",),
        "fresh",
        "switch",
        "Start over: delete OUT's state, records and pages first (a shared job: its Redis keys too).",
    ),
    (
        ("--render",),
        "render",
        "list",
        "URL glob (or re: regex) of pages to load in Chromium, JavaScript run (repeatable; needs '.[render]').",
    ),
    (
        ("--render-auto",),
        "render_auto",
        "flag",
        "Fetch over HTTP first; load in the browser the pages that look built by scripts.",
    ),
    (("--render-wait",), "render_wait", "value", "load, domcontentloaded or networkidle [load]."),
    (("--render-selector",), "render_selector", "value", "Also wait until this CSS selector matches."),
    (("--render-timeout",), "render_timeout", "value", "Seconds a rendered page may take [30]."),
    (("--render-concurrency",), "render_concurrency", "value", "Pages open in the browser at once [4]."),
    (
        ("--render-screenshot",),
        "render_screenshot",
        "flag",
        "Save a full-page PNG of each rendered page in OUT/screens/.",
    ),
    (
        ("--recrawl",),
        "recrawl",
        "flag",
        "Fetch a finished job again with conditional requests; records say new/changed/unchanged/gone.",
    ),
    (("--recrawl-after",), "recrawl_after", "value", "Re-crawl only URLs fetched longer ago than this (6h, 2d)."),
    (
        ("--recrawl-adaptive",),
        "recrawl_adaptive",
        "flag",
        "Each URL's re-crawl interval halves when it changed and doubles when it did not.",
    ),
    (("--proxy",), "proxy", "value", "Proxy URL: http(s)://, socks5(h)://, socks4://, user:pass@ allowed."),
    (("--proxy-rotation",), "proxy_rotation", "value", "round_robin, random, least_used or sticky."),
    (("--proxy-concurrency",), "proxy_concurrency", "value", "Requests in flight per proxy."),
    (
        ("--transport",),
        "transport",
        "value",
        "aiohttp (default) or curl: HTTP/2 and, with --impersonate, a browser's TLS.",
    ),
    (
        ("--impersonate",),
        "impersonate",
        "value",
        "Browser curl presents: chrome, firefox, safari, edge, or e.g. chrome131.",
    ),
    (
        ("--identities",),
        "identities",
        "value",
        "Crawl as N visitors, each with its own cookies and proxy (YAML identities: has more).",
    ),
    (("--http3",), "http3", "flag", "With curl: HTTP/3 (QUIC) first for https:// URLs without a proxy."),
    (("--trust-env",), "trust_env", "flag", "Honour HTTP(S)_PROXY and NO_PROXY."),
    (("--insecure",), "insecure", "flag", "Do not verify TLS certificates."),
    (
        ("--block-private-ips",),
        "block_private_ips",
        "flag",
        "Refuse private, loopback and link-local addresses (after DNS) for untrusted link graphs.",
    ),
    (("--ca-bundle",), "ca_bundle", "value", "PEM file of CAs to trust (private CAs)."),
]


def job_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Attach every job option to a click command."""
    for decls, field, kind, help_text in reversed(OPTIONS):
        dest = _dest(decls, field, kind)
        if kind == "switch":
            func = click.option(*decls, dest, default=None, help=help_text)(func)
        elif kind == "flag":
            func = click.option(*decls, dest, is_flag=True, default=None, help=help_text)(func)
        else:
            multiple = kind in ("list", "header", "cookie")
            func = click.option(*decls, dest, multiple=multiple, default=None, help=help_text)(func)
    return func


def overrides_from(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """CLI params → (Job fields, field → flag name) for values the user actually gave."""
    data: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for decls, field, kind, _ in OPTIONS:
        value = params.get(_dest(decls, field, kind))
        if value is None or value == ():
            continue
        flags[kind if kind.startswith("timeout.") else field] = decls[-1]
        if kind == "header":
            data[field] = dict(_pair(v, ":", decls[-1], "Name: value") for v in value)
        elif kind == "cookie":
            data[field] = dict(_pair(v, "=", decls[-1], "name=value") for v in value)
        elif kind.startswith("timeout."):
            data.setdefault("timeout", {})[kind.split(".")[1]] = value
        else:
            data[field] = list(value) if kind == "list" else value
    return data, flags


def _dest(decls: tuple[str, ...], field: str, kind: str) -> str:
    """The click parameter name of an option: its long name, or the field for an on/off switch."""
    return field if kind == "switch" else decls[-1].lstrip("-").replace("-", "_")


def _pair(text: str, sep: str, flag: str, shape: str) -> tuple[str, str]:
    name, found, value = text.partition(sep)
    if not found or not name.strip():
        raise ConfigError(f"{flag} {text!r}: expected '{shape}'")
    return name.strip(), value.strip()


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
