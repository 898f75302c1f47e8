"""A job shared by several real crawler processes through a real redis-server: politeness holds
across all of them, a killed worker loses nothing, Redis may restart, and `crawler merge` leaves
exactly one record per URL. The test server counts requests in flight per Host header and notes
when each one started."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.helpers.redis_server import RedisServer
from tests.helpers.site import Site

HOSTS = ("a.test", "b.test")
PAGES = 30
PER_HOST = 2
DELAY = 0.15
TOLERANCE = 0.07  # a request reaches the server a little after its slot is taken
SLACK = 1.0  # how late the first request of a host may reach the server (a busy machine)


def build(site: Site, latency: float = 0.01, pages: int = PAGES) -> set[str]:
    """Two hosts of ``pages`` pages each, linked forward and across; returns every page URL.
    Called once the site listens: the links carry its port."""
    urls = set()
    for host in HOSTS:
        other = HOSTS[1 - HOSTS.index(host)]
        for i in range(pages):
            links = [f"/p{j}" for j in range(i + 1, min(i + 4, pages))] + [site.url(other, f"/p{i}")]
            body = "".join(f'<a href="{href}">x</a>' for href in links) + "filler " * 200
            page(site, host, f"/p{i}", body, latency)
            urls.add(site.url(host, f"/p{i}"))
        page(site, host, "/", '<a href="/p0">start</a>', latency)
        urls.add(site.url(host, "/"))
    return urls


def page(site: Site, host: str, path: str, body: str, latency: float) -> None:
    doc = f"<html><body>{body}</body></html>"

    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)  # the site's own response time, so requests overlap
        return web.Response(text=doc, content_type="text/html")

    site.route(host, path, handler)


def worker_cmd(site: Site, redis_url: str, out: Path, worker: str, *extra: str, quiet: bool = True) -> list[str]:
    seeds = [site.url(h, "/") for h in HOSTS]
    pins = [a for p in site.pin(*HOSTS) for a in ("--resolve", p)]
    return [
        sys.executable,
        "-m",
        "crawler",
        "crawl",
        *seeds,
        *pins,
        "--frontier",
        redis_url,
        "--name",
        "shared",
        "-o",
        str(out),
        "--worker-id",
        worker,
        "--per-host",
        str(PER_HOST),
        "--delay",
        str(DELAY),
        "--concurrency",
        "8",
        "--lease-ttl",
        "2",
        "--parser",
        "inline",
        *(["-q"] if quiet else []),
        *extra,
    ]


async def start(cmd: list[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finish(proc: asyncio.subprocess.Process, timeout: float = 120) -> tuple[int, str]:
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


class Worker:
    """A crawler process whose stderr is read as it comes, so a test can wait for what it says."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._new_line = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            async with self._new_line:
                self.lines.append(line.decode())
                self._new_line.notify_all()

    async def said(self, text: str) -> None:
        async with self._new_line:
            await self._new_line.wait_for(lambda: any(text in line for line in self.lines))

    async def finish(self, timeout: float = 120) -> tuple[int, str]:
        await asyncio.wait_for(asyncio.gather(self.proc.wait(), self._reader), timeout)
        assert self.proc.returncode is not None
        return self.proc.returncode, "".join(self.lines)


async def first_to_say(workers: list[Worker], text: str, timeout: float = 60) -> None:
    """Wait until any of ``workers`` prints ``text`` on stderr."""
    waits = [asyncio.create_task(w.said(text)) for w in workers]
    done, pending = await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    assert done, f"no worker said {text!r} within {timeout:g}s: {[w.lines for w in workers]}"


def count_hits(site: Site, n: int) -> asyncio.Event:
    """An event set once the site has answered ``n`` page requests: the crawl is well under way."""
    reached = asyncio.Event()
    served = 0

    def counted(handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            nonlocal served
            served += 1
            if served >= n:
                reached.set()
            return await handler(request)

        return wrapper

    for key, handler in list(site.routes.items()):
        site.routes[key] = counted(handler)
    return reached


def hold(site: Site) -> asyncio.Event:
    """The site answers nothing until the returned event is set (requests wait, none fail)."""
    go = asyncio.Event()

    def held(handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            await go.wait()
            return await handler(request)

        return wrapper

    for key, handler in list(site.routes.items()):
        site.routes[key] = held(handler)
    return go


async def registered(redis_url: str, job: str, n: int, timeout: float = 60) -> None:
    """Wait until ``n`` workers of ``job`` have said they are alive in Redis."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    try:
        for _ in range(round(timeout / 0.05)):  # bounded: polls the worker list until all are in
            if await client.hlen(f"crawler:{job}:workers") >= n:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"fewer than {n} workers of {job!r} started within {timeout:g}s")
    finally:
        await client.aclose()


async def merged(out: Path) -> list[dict[str, Any]]:
    proc = await start([sys.executable, "-m", "crawler", "merge", str(out)])
    code, err = await finish(proc)
    assert code == 0, err
    return [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]


def assert_polite(site: Site) -> None:
    """``per_host`` exactly (the server counts requests in flight). The delay in ways a busy machine
    cannot break: a request that reaches the server late shortens only the gap after it, so the
    median gap stays near DELAY, and a host's requests span at least DELAY per gap, less the lateness
    of its first request. Workers that ignored each other would send at gaps near 0."""
    for host in HOSTS:
        assert site.max_inflight[host] <= PER_HOST, f"{host}: {site.max_inflight[host]} requests in flight"
        starts = sorted(site.starts[host])
        gaps = [b - a for a, b in zip(starts, starts[1:])]
        assert statistics.median(gaps) >= DELAY - TOLERANCE, f"{host}: median gap {statistics.median(gaps):.3f}s"
        span, least = starts[-1] - starts[0], (len(gaps) - 1) * DELAY - SLACK
        assert span >= least, f"{host}: {len(starts)} requests in {span:.2f}s"


def assert_one_whole_record_each(records: list[dict[str, Any]], urls: set[str], out: Path) -> None:
    by_url = {r["url"] for r in records}
    assert len(records) == len(by_url)  # one record per URL
    assert {r["url"] for r in records if r["status"] == 200} == urls
    for r in records:
        if r["path"]:
            assert hashlib.sha256((out / r["path"]).read_bytes()).hexdigest() == r["sha256"]


async def test_three_workers_share_one_job_politely(site, redis_url, tmp_path):
    await site.start()
    urls = build(site)
    go = hold(site)  # no page is served before all three are up, so a slow start cannot leave one idle
    out = tmp_path / "out"
    procs = [await start(worker_cmd(site, redis_url, out, f"w{i}")) for i in range(3)]
    await registered(redis_url, "shared", 3)
    go.set()
    results = [await finish(p) for p in procs]
    assert [code for code, _ in results] == [0, 0, 0], results
    records = await merged(out)
    assert_one_whole_record_each(records, urls, out)
    pages = {k: n for k, n in site.hits.items() if k[1] != "/robots.txt"}
    assert max(pages.values()) == 1  # no URL fetched twice while its lease was live
    assert_polite(site)
    assert len({r["worker"] for r in records}) >= 2  # the work was really shared
    for host in HOSTS:
        assert site.hits[(host, "/robots.txt")] <= PER_HOST  # shared: not once per worker


async def test_a_killed_worker_loses_nothing(site, redis_url, tmp_path):
    await site.start()
    urls = build(site)
    victim_holds = asyncio.Event()
    release = asyncio.Event()
    served: list[str] = []

    def hold_w0(handler):
        async def held(request: web.Request) -> web.StreamResponse:
            if request.headers.get("X-Worker") == "w0" and not victim_holds.is_set():
                served.append(request.path)
                if len(served) == 3:  # w0 holds this page's lease and has finished others: kill it
                    victim_holds.set()
                    await release.wait()
            return await handler(request)

        return held

    for key, handler in list(site.routes.items()):
        site.routes[key] = hold_w0(handler)
    out = tmp_path / "out"
    procs = [await start(worker_cmd(site, redis_url, out, f"w{i}", "-H", f"X-Worker: w{i}")) for i in range(3)]
    await asyncio.wait_for(victim_holds.wait(), 60)
    procs[0].send_signal(signal.SIGKILL)
    await procs[0].wait()
    release.set()
    results = [await finish(p) for p in procs[1:]]
    assert [code for code, _ in results] == [0, 0], results
    records = await merged(out)
    assert_one_whole_record_each(records, urls, out)
    held_url = next(r for r in records if r["url"].endswith(served[-1]))  # one of the two hosts' pages
    assert held_url["status"] == 200


async def test_redis_restarted_mid_crawl_the_crawl_finishes(site, redis_server, redis_url, tmp_path):
    """Redis stays down until a worker has said so (read from its stderr as it comes), then comes
    back on the same port and data: both workers carry on and the job ends whole."""
    await site.start()
    urls = build(site)
    under_way = count_hits(site, 30)
    out = tmp_path / "out"
    workers = [Worker(await start(worker_cmd(site, redis_url, out, f"w{i}", "--redis-wait", "60"))) for i in range(2)]
    await asyncio.wait_for(under_way.wait(), 60)
    redis_server.kill()
    await first_to_say(workers, "unreachable")  # the outage was noticed and said
    redis_server.start()  # same port, same append-only file
    results = [await w.finish() for w in workers]
    assert [code for code, _ in results] == [0, 0], results
    assert any("is back" in err for _, err in results)
    records = await merged(out)
    assert_one_whole_record_each(records, urls, out)


async def test_a_redis_stall_too_short_to_notice_says_nothing(site, redis_server, redis_url, tmp_path):
    """Redis frozen for half a second (a slow save, a network blip) while the crawl is under way:
    calls wait for their answers, no worker warns, and the job ends whole."""
    await site.start()
    urls = build(site)
    under_way = count_hits(site, 30)
    out = tmp_path / "out"
    workers = [Worker(await start(worker_cmd(site, redis_url, out, f"w{i}", "--lease-ttl", "10"))) for i in range(2)]
    await asyncio.wait_for(under_way.wait(), 60)
    assert redis_server.proc is not None
    redis_server.proc.send_signal(signal.SIGSTOP)
    try:
        await asyncio.sleep(0.5)  # the length of the stall itself, far below the client's 10 s timeout
    finally:
        redis_server.proc.send_signal(signal.SIGCONT)
    results = [await w.finish() for w in workers]
    assert [code for code, _ in results] == [0, 0], results
    assert not any("Redis" in err for _, err in results), results
    assert_one_whole_record_each(await merged(out), urls, out)


async def test_redis_gone_for_good_is_one_line_and_the_shard_stays_whole(site, redis_server, redis_url, tmp_path):
    await site.start()
    build(site, latency=0.05)
    under_way = count_hits(site, 10)
    out = tmp_path / "out"
    proc = await start(worker_cmd(site, redis_url, out, "w0", "--redis-wait", "2"))
    await asyncio.wait_for(under_way.wait(), 60)
    redis_server.kill()
    code, err = await finish(proc)
    assert code == 1
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: Redis at redis://127.0.0.1:") and "unreachable for 2s" in last
    lines = (out / "shards" / "w0" / "records.jsonl").read_bytes().splitlines(keepends=True)
    assert lines and all(line.endswith(b"\n") and json.loads(line)["url"] for line in lines)


@pytest.mark.parametrize(
    "form, shown",
    [
        (":{pw}@{host}/0", "***@{host}/0"),
        ("default:{pw}@{host}/0", "***@{host}/0"),
        ("{host}/0?password={pw}", "{host}/0?password=***"),
        ("{host}/0?username=default&password={pw}", "{host}/0?username=***&password=***"),
    ],
)
async def test_a_password_works_and_is_never_shown(site, tmp_path, form, shown):
    """Every form of password redis-py reads from the URL: user info, or query parameters."""
    await site.start()
    build(site, pages=3)  # a job that runs to its end is what is checked, not its size (DELAY apart, 30 pages cost 5 s)
    server = RedisServer(tmp_path / "redis", password="s3cret-pw")
    server.start()
    try:
        out = tmp_path / "out"
        host = f"127.0.0.1:{server.port}"
        url = "redis://" + form.format(pw="s3cret-pw", host=host)
        code, err = await finish(await start(worker_cmd(site, url, out, "w0", quiet=False)))
        assert code == 0, err
        assert f"at redis://{shown.format(host=host)}, worker w0" in err
        status = await asyncio.create_subprocess_exec(  # `crawler status` takes the same URL with the job
            sys.executable,
            "-m",
            "crawler",
            "status",
            url.replace("/0", "/0/shared", 1),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        described, status_err = await asyncio.wait_for(status.communicate(), 60)
        assert status.returncode == 0, status_err
        assert described.decode().startswith(f"redis://{shown.format(host=host)} job 'shared': finished")
        err += described.decode() + status_err.decode()
        wrong = url.replace("s3cret-pw", "nope")
        code2, err2 = await finish(await start(worker_cmd(site, wrong, tmp_path / "o2", "w0", "--redis-wait", "1")))
        assert code2 == 1 and "refused our credentials" in err2
        shown = err + err2 + "".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
        assert "s3cret-pw" not in shown and "nope" not in shown
    finally:
        server.kill()


async def test_redis_over_tls_shares_the_job_and_an_untrusted_certificate_is_one_line(site, tmp_path):
    """rediss:// to a redis-server that only speaks TLS, its certificate signed by a private CA:
    with SSL_CERT_FILE naming the CA the job runs (and `crawler status` reads it); without, one
    line says why at once instead of waiting out --redis-wait."""
    await site.start()
    urls = build(site)
    server = RedisServer(tmp_path / "redis", tls=True)
    server.start()
    try:
        out = tmp_path / "out"
        trusted = {**os.environ, "SSL_CERT_FILE": str(server.ca_file)}
        proc = await asyncio.create_subprocess_exec(
            *worker_cmd(site, server.url, out, "w0"),
            env=trusted,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        code, err = await finish(proc)
        assert code == 0, err
        assert_one_whole_record_each(await merged(out), urls, out)
        status = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "crawler",
            "status",
            server.url + "/shared",
            env=trusted,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        shown, err = await asyncio.wait_for(status.communicate(), 60)
        assert status.returncode == 0 and "job 'shared'" in shown.decode(), err

        code, err = await finish(
            await start(worker_cmd(site, server.url, tmp_path / "o2", "w0", "--redis-wait", "30")), timeout=20
        )  # at once, not after 30 s of retries
        assert code == 1 and "Traceback" not in err
        (line,) = err.strip().splitlines()
        assert line.startswith("error: Redis at rediss://127.0.0.1:") and "certificate verify failed" in line
        assert "SSL_CERT_FILE" in line
    finally:
        server.kill()


async def test_processes_runs_workers_and_merges(site, redis_url, tmp_path):
    await site.start()
    urls = build(site)
    out = tmp_path / "out"
    job = tmp_path / "job.yaml"
    job.write_text(
        "\n".join(
            [
                "name: many",
                f"output: {out}",
                f"frontier: {redis_url}",
                "processes: 2",
                "parser: inline",
                f"per_host: {PER_HOST}",
                f"delay: {DELAY}",
                "start_urls:",
                *(f"  - {site.url(h, '/')}" for h in HOSTS),
                "resolve:",
                *(f"  - {p}" for p in site.pin(*HOSTS)),
            ]
        )
        + "\n"
    )
    go = hold(site)
    proc = await start([sys.executable, "-m", "crawler", "run", str(job)])
    await registered(redis_url, "many", 2)
    go.set()
    code, err = await finish(proc)
    assert code == 0, err
    assert "merged 2 shards" in err
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert_one_whole_record_each(records, urls, out)
    assert {r["worker"] for r in records} <= {f"{os.uname().nodename}-1", f"{os.uname().nodename}-2"}
    assert_polite(site)
