"""crawl4ai on the docs corpus (issue 27's speed peer): the pages our docs benchmark crawls, each
turned into Markdown by crawl4ai's default generator, timed as a whole process tree.

Runs in a venv with crawl4ai (``python3 -m venv /tmp/v27b && /tmp/v27b/bin/pip install crawl4ai``);
the corpus must be up (``../shared/bench/corpus.sh start``; names resolve through /etc/hosts).

    python crawl4ai_docs.py [--strategy http|browser] [--filter pruning|none] [--concurrency 16]
                            [--urls RECORDS.jsonl] [--out DIR] [SITES...]

- ``--strategy http`` (default): ``AsyncHTTPCrawlerStrategy`` (aiohttp, no browser; crawl4ai's
  fastest). ``browser``: the default ``AsyncPlaywrightCrawlerStrategy`` with Debian's Chromium
  (``--chromium``). ``BrowserConfig`` has no ``executable_path``, so ``--launch playwright`` (the
  default) adds one to the dict crawl4ai hands Playwright's ``launch()``; ``--launch managed`` uses
  crawl4ai's managed CDP browser instead, started from the ``chromium.path`` file crawl4ai reads
  before it asks Playwright (it lost 10-25% of the pages to "Target page, context or browser has
  been closed" here). Either way nothing is downloaded (never ``playwright install``).
- Pages: without ``--urls``, crawl4ai's own deep crawl, ``BFSDeepCrawlStrategy`` from each site's
  index page (sites one after the other, as ``arun_many`` runs deep-crawl seeds), ``DomainFilter``
  = the site's host, no depth or page limit that the corpus reaches. With ``--urls``, exactly the
  URLs of the given file (our crawler's ``records.jsonl``, or one URL a line) through ``arun_many``.
- Markdown: ``DefaultMarkdownGenerator``; with ``--filter pruning`` (the default) its
  ``content_filter`` is ``PruningContentFilterLXML`` (crawl4ai's "fit markdown" for main content,
  the lxml version its deprecation warning asks for); ``none`` gives the raw whole-page Markdown only.
- Concurrency: ``semaphore_count`` (deep crawl) or ``MemoryAdaptiveDispatcher(max_session_permit=)``
  (URL list; ``--dispatcher semaphore``: ``SemaphoreDispatcher``) = ``--concurrency``; the
  per-domain rate limiter's delays are set to 0 (``mean_delay=0, max_range=0``; its defaults wait
  0.1-0.4 s between requests to one host), cache bypassed, per-URL log lines off.

The script re-runs itself as a child (``--worker``) and watches it: wall seconds from spawn to exit,
CPU seconds of the tree (``wait4`` rusage of the child, which includes every descendant it reaped,
and the sum of the last ``cpu_times`` sampled per process, whichever is larger: Chromium's processes
are not all reaped through the child), peak summed RSS of the tree and the largest single process
(psutil, every 0.2 s), and peak summed PSS of the tree (every 1 s; RSS counts Chromium's shared
pages once per process). It prints a table and one JSON line;
Pages whose Markdown is crawl4ai's "Crawl4AI Error: This page is not fully supported" text (its
scraper failed, ``success`` stays True) are counted apart (``md_error``), not as Markdown.
``--out`` gets ``pages.jsonl`` (url, status, success, Markdown lengths, the Markdown itself) and
``summary.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = {
    "python": "http://python.docs.test:8080/index.html",
    "postgres": "http://postgres.docs.test:8080/index.html",
    "django": "http://django.docs.test:8080/index.html",
    "cpp": "http://cpp.docs.test:8080/en/index.html",
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sites", nargs="*", default=["python", "postgres", "django"])
    p.add_argument("--strategy", choices=["http", "browser"], default="http")
    p.add_argument("--filter", choices=["pruning", "none"], default="pruning")
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--urls", help="records.jsonl of our crawler (status 200 URLs) or one URL a line")
    p.add_argument("--out", help="directory for pages.jsonl and summary.json (default: a temp dir)")
    p.add_argument("--chromium", default="/usr/lib/chromium/chromium")
    p.add_argument(
        "--launch",
        choices=["playwright", "managed"],
        default="playwright",
        help="browser: Playwright's launch() (crawl4ai's default path; executable_path added) "
        "or crawl4ai's managed CDP browser",
    )
    p.add_argument(
        "--dispatcher",
        choices=["memory", "semaphore"],
        default="memory",
        help="with --urls: MemoryAdaptiveDispatcher (arun_many's default, streamed) or SemaphoreDispatcher (batch)",
    )
    p.add_argument("--no-markdown-out", action="store_true", help="write lengths only, not the Markdown")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def read_urls(path: str) -> list[str]:
    urls: list[str] = []
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            r = json.loads(line)
            if r.get("status") == 200:
                urls.append(r["url"])
        else:
            urls.append(line)
    return list(dict.fromkeys(urls))


# ---------------------------------------------------------------- worker (runs crawl4ai)


async def work(a: argparse.Namespace, out: Path) -> dict:
    t_import = time.monotonic()
    from crawl4ai import (
        AsyncWebCrawler,
        BFSDeepCrawlStrategy,
        BrowserConfig,
        CacheMode,
        CrawlerRunConfig,
        DefaultMarkdownGenerator,
        DomainFilter,
        FilterChain,
        HTTPCrawlerConfig,
        MemoryAdaptiveDispatcher,
        PruningContentFilterLXML,
        SemaphoreDispatcher,
    )
    from crawl4ai.async_crawler_strategy import AsyncHTTPCrawlerStrategy

    import_s = time.monotonic() - t_import
    md = DefaultMarkdownGenerator(content_filter=PruningContentFilterLXML() if a.filter == "pruning" else None)
    run_cfg = CrawlerRunConfig(
        cache_mode=CacheMode.BYPASS,
        markdown_generator=md,
        semaphore_count=a.concurrency,
        mean_delay=0,
        max_range=0,
        stream=True,
        verbose=False,
    )
    if a.strategy == "http":
        strategy = AsyncHTTPCrawlerStrategy(browser_config=HTTPCrawlerConfig(), max_connections=a.concurrency)
        crawler = AsyncWebCrawler(crawler_strategy=strategy, config=BrowserConfig(verbose=False))
    elif a.launch == "managed":
        crawler = AsyncWebCrawler(config=BrowserConfig(headless=True, use_managed_browser=True, verbose=False))
    else:
        # BrowserConfig has no executable_path: crawl4ai hands Playwright's launch() the dict that
        # BrowserManager._build_browser_args builds, and Playwright would look for its own download.
        from crawl4ai import browser_manager

        build = browser_manager.BrowserManager._build_browser_args

        def with_executable(self):  # type: ignore[no-untyped-def]
            return {**build(self), "executable_path": a.chromium}

        browser_manager.BrowserManager._build_browser_args = with_executable
        crawler = AsyncWebCrawler(config=BrowserConfig(headless=True, verbose=False))

    n = {
        "results": 0,
        "ok": 0,
        "status200": 0,
        "md_error": 0,
        "md_nonempty": 0,
        "fit_nonempty": 0,
        "md_chars": 0,
        "fit_chars": 0,
    }
    errors: dict[str, int] = {}
    hosts_md: dict[str, int] = {}  # pages with non-empty Markdown (not crawl4ai's error text), per host
    hosts_err: dict[str, int] = {}
    seen: set[str] = set()
    f = open(out / "pages.jsonl", "w")  # noqa: SIM115, ASYNC230 (written page by page; closed below)

    def take(r) -> None:  # type: ignore[no-untyped-def]
        n["results"] += 1
        m = r.markdown
        raw = (m.raw_markdown if m else "") or ""
        fit = (m.fit_markdown if m else "") or ""
        row = {"url": r.url, "status": r.status_code, "success": r.success, "md_chars": len(raw), "fit_chars": len(fit)}
        if r.success:
            n["ok"] += 1
        else:
            msg = r.error_message or "?"
            key = " | ".join(x.strip() for x in msg.splitlines() if x.strip())[:160]
            errors[key] = errors.get(key, 0) + 1
            row["error"] = msg[:2000]
        if r.status_code == 200:
            n["status200"] += 1
            seen.add(r.url)
        host = r.url.split("/")[2]
        if r.status_code != 200:  # Markdown of error pages (the 404s) is not counted
            pass
        elif raw.lstrip().startswith("Crawl4AI Error"):  # its scraper failed; success stays True
            n["md_error"] += 1
            row["md_error"] = raw.strip()[:300]
            hosts_err[host] = hosts_err.get(host, 0) + 1
        else:
            if raw.strip():
                n["md_nonempty"] += 1
                hosts_md[host] = hosts_md.get(host, 0) + 1
            if fit.strip():
                n["fit_nonempty"] += 1
        n["md_chars"] += len(raw)
        n["fit_chars"] += len(fit)
        if not a.no_markdown_out:
            row["markdown"] = fit if a.filter == "pruning" else raw
        f.write(json.dumps(row, ensure_ascii=False) + "\n")

    t0 = time.monotonic()
    async with crawler:
        t_started = time.monotonic()
        if a.urls:
            urls = read_urls(a.urls)
            if a.dispatcher == "memory":
                dispatcher = MemoryAdaptiveDispatcher(max_session_permit=a.concurrency, rate_limiter=None)
                async for r in await crawler.arun_many(urls=urls, config=run_cfg, dispatcher=dispatcher):
                    take(r)
            else:  # SemaphoreDispatcher has no streaming run: all results come back at the end
                dispatcher = SemaphoreDispatcher(semaphore_count=a.concurrency, rate_limiter=None)
                for r in await crawler.arun_many(urls=urls, config=run_cfg.clone(stream=False), dispatcher=dispatcher):
                    take(r)
        else:
            for site in a.sites:
                seed = SEEDS[site]
                host = seed.split("/")[2].split(":")[0]
                deep = BFSDeepCrawlStrategy(
                    max_depth=1000,
                    filter_chain=FilterChain([DomainFilter(allowed_domains=[host])]),
                    include_external=False,
                )
                async for r in await crawler.arun(seed, config=run_cfg.clone(deep_crawl_strategy=deep)):
                    take(r)
        t_crawled = time.monotonic()
    f.close()
    return {
        "import_s": round(import_s, 2),
        "browser_start_s": round(t_started - t0, 2),
        "crawl_s": round(t_crawled - t_started, 2),
        "close_s": round(time.monotonic() - t_crawled, 2),
        "distinct_urls_200": len(seen),
        "errors": errors,
        "md_nonempty_by_host": hosts_md,
        "md_error_by_host": hosts_err,
        **n,
    }


def worker(a: argparse.Namespace) -> None:
    out = Path(a.out)
    res = asyncio.run(work(a, out))
    (out / "worker.json").write_text(json.dumps(res))


# ---------------------------------------------------------------- driver (times the worker's tree)


def prepare_home(a: argparse.Namespace) -> str:
    """A crawl4ai home of our own (cache, logs, the Cloud notice's marker); with the browser, the
    chromium.path file that makes crawl4ai launch Debian's Chromium, never Playwright's download."""
    home = tempfile.mkdtemp(prefix="c4a-home.")
    (Path(home) / ".crawl4ai").mkdir()
    (Path(home) / ".crawl4ai" / "chromium.path").write_text(a.chromium)
    return home


def driver(a: argparse.Namespace, argv: list[str]) -> None:
    import psutil

    out = Path(a.out or tempfile.mkdtemp(prefix="c4a-docs."))
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        CRAWL4_AI_BASE_DIRECTORY=prepare_home(a),
        CRAWL4AI_NO_CLOUD_NOTICE="1",
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # litellm (a crawl4ai dependency) fetches a price list otherwise
        PYTHONWARNINGS="ignore::DeprecationWarning",
    )
    cmd = [sys.executable, os.path.abspath(__file__), *argv, "--worker", "--out", str(out)]
    log = open(out / "worker.log", "w")  # noqa: SIM115 (the child's stdout)
    t0 = time.monotonic()
    child = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    root = psutil.Process(child.pid)
    cpu_last: dict[int, float] = {}
    peak_sum = peak_one = peak_pss = 0
    nprocs = 1
    tick = 0
    rusage = None
    while True:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = []
        total = pss = 0
        tick += 1
        for p in procs:
            try:
                rss = p.memory_info().rss
                ct = p.cpu_times()
            except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                continue
            total += rss
            if tick % 5 == 1:  # PSS (shared pages split between processes) every 1 s: smaps costs more
                try:
                    pss += p.memory_full_info().pss
                except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
                    pass
            peak_one = max(peak_one, rss)
            cpu_last[p.pid] = ct.user + ct.system
        peak_sum = max(peak_sum, total)
        peak_pss = max(peak_pss, pss)
        nprocs = max(nprocs, len(procs))
        pid, status, ru = os.wait4(child.pid, os.WNOHANG)
        if pid:
            rusage = ru
            rc = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.2)
    wall = time.monotonic() - t0
    cpu_rusage = rusage.ru_utime + rusage.ru_stime
    cpu_sampled = sum(cpu_last.values())
    w = json.loads((out / "worker.json").read_text()) if (out / "worker.json").exists() else {}
    pages = w.get("status200", 0)
    seeds = [SEEDS[s] for s in a.sites]
    summary = {
        "crawl4ai": _version(),
        "strategy": a.strategy,
        "pages_from": f"url list {a.urls}" if a.urls else "BFSDeepCrawlStrategy from " + ", ".join(seeds),
        "filter": a.filter,
        "concurrency": a.concurrency,
        "dispatcher": a.dispatcher if a.urls else "arun_many default (MemoryAdaptiveDispatcher) per BFS level",
        "rc": rc,
        "wall_s": round(wall, 2),
        "pages_200": pages,
        "pages_per_s": round(pages / wall, 1) if wall else None,
        "pages_per_s_crawl_phase": round(pages / w["crawl_s"], 1) if w.get("crawl_s") else None,
        "markdown_pages_per_s": round(w.get("md_nonempty", 0) / wall, 1) if wall else None,
        "cpu_s": round(max(cpu_rusage, cpu_sampled), 1),
        "cpu_s_rusage": round(cpu_rusage, 1),
        "cpu_s_sampled": round(cpu_sampled, 1),
        "cpu_ms_per_page": round(1000 * max(cpu_rusage, cpu_sampled) / pages, 1) if pages else None,
        "peak_rss_tree_mb": round(peak_sum / 2**20),
        "peak_rss_one_process_mb": round(peak_one / 2**20),
        "peak_pss_tree_mb": round(peak_pss / 2**20),
        "max_processes": nprocs,
        "sampler_cpu_s": round(sum(os.times()[:2]), 1),  # this driver's own CPU (psutil sampling), not in cpu_s
        "out": str(out),
        **w,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(
        f"crawl4ai {summary['crawl4ai']} {a.strategy} filter={a.filter} c={a.concurrency}: rc={rc} "
        f"{summary['wall_s']} s wall, {pages} pages 200 ({summary['pages_per_s']}/s), "
        f"cpu {summary['cpu_s']} s, peak RSS {summary['peak_rss_tree_mb']} MB (tree) / "
        f"{summary['peak_rss_one_process_mb']} MB (one process), PSS {summary['peak_pss_tree_mb']} MB (tree), "
        f"non-empty markdown {w.get('md_nonempty')} raw / {w.get('fit_nonempty')} fit, "
        f"crawl4ai error text instead of Markdown {w.get('md_error')}",
        file=sys.stderr,
    )
    print(json.dumps(summary))


def _version() -> str:
    from importlib.metadata import version

    try:
        return version("crawl4ai")
    except Exception:
        return "?"


if __name__ == "__main__":
    args = parse_args(sys.argv[1:])
    if args.worker:
        worker(args)
    else:
        driver(args, sys.argv[1:])
