"""A broad crawl as deployed, in miniature (issue 26): N hosts x K pages behind a real DNS server.

Usage: .venv/bin/python benchmarks/million.py [--hosts 100000] [--pages 10] [--kill-at 0.5] ... (--help)

Debian's nginx serves the site (static files, generated config, one worker): it costs half the CPU per
request of an aiohttp server (45 against 90 us here); on 2 shared cores its cycles are the crawler's loss.
Hosts h{i}.million.test: / links /p/1../p/{K-1}, leaves link / and their neighbours; robots.txt by i % 4
as in scenarios/broad.py (Disallow: /p/3, 404, empty, allow all) through a regex map on the last digits.
The seed hub.million.test/ links hosts 0..C-1 (--chains) and each host's /p/1 links host i+C, so new
hosts arrive at the pace of the crawl, as on the web: every tenth of the crawl has the same mix of new
and known hosts, so its seconds per 1,000 pages compare like with like (with all hosts known at once the
first tenth is all robots.txt, DNS and home pages). Names resolve through Debian's dnsmasq on a free
loopback port (million.test only; never /etc/resolv.conf), or pins (--pins). Prints wall time, pages/s,
peak RSS of the crawler's process tree (nginx, dnsmasq apart), CPU, new connections per page, that tenth
ratio, requests for robots-refused URLs (must be 0), one record per expected URL. --kill-at F kill -9s
the crawler at that fraction of the records and runs it again: restart_s, time to its first new record.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

DOMAIN = "million.test"
PAGE_KB, TICK = os.sysconf("SC_PAGE_SIZE") // 1024, os.sysconf("SC_CLK_TCK")
TEXT = "<p>One of many small pages of a small site: a title, navigation, paragraphs like this, a footer.</p>\n"


@dataclass
class Site:
    """The generated site: where its files are and what it answers for."""

    root: Path
    hosts: int
    pages: int
    port: int
    chains: int

    def host_url(self, i: int, path: str = "/") -> str:
        return f"http://h{i}.{DOMAIN}:{self.port}{path}"

    def hub_url(self) -> str:
        return f"http://hub.{DOMAIN}:{self.port}/"

    def expected(self) -> tuple[set[str], set[str]]:
        """Every URL that must end with one record, and those robots.txt refuses (never to be requested)."""
        paths = ["/", *(f"/p/{k}" for k in range(1, self.pages))]
        urls = {self.hub_url(), *(self.host_url(i, path) for i in range(self.hosts) for path in paths)}
        return urls, {self.host_url(i, "/p/3") for i in range(0, self.hosts, 4) if self.pages > 3}


def page(title: str, links: list[tuple[str, str]], paragraphs: int = 9) -> str:
    nav = " ".join(f'<a href="{href}">{text}</a>' for href, text in links)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>\n'
        f'<meta name="description" content="{title}: a page of the million-page benchmark"></head>\n'
        f"<body><header><nav>{nav}</nav></header>\n<main><h1>{title}</h1>\n{TEXT * paragraphs}</main>\n"
        "<footer><p>Served by nginx on loopback for benchmarks/million.py</p></footer></body></html>\n"
    )


def write_site(site: Site) -> None:
    """Static files: one home and K-1 leaves that every host shares (/p/1 is nginx's), robots, the hub."""
    root, k = site.root, site.pages
    for d in ("host/p", "hub", "robots", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "host/index.html").write_text(page("Home", [(f"/p/{n}", f"Page {n}") for n in range(1, k)], 16))
    for n in range(1, k):
        nav = [("/", "Home")] + [(f"/p/{m}", f"Page {m}") for m in (n - 1, n + 1) if 0 < m < k]
        nav += [(f"http://$next.{DOMAIN}:{site.port}/", "Next site")] if n == 1 else []
        (root / f"host/p/{n}").write_text(page(f"Page {n}", nav, 28))
    robots = {"disallow": "User-agent: *\nDisallow: /p/3\n", "empty": "", "allow": "User-agent: *\nAllow: /\n"}
    for name, text in robots.items():
        (root / f"robots/{name}.txt").write_text(text)
    links = [(site.host_url(i), f"Site {i}") for i in range(min(site.chains, site.hosts))]
    (root / "hub/index.html").write_text(page("Hub", links, 0))
    nexts = "".join(f"{i} h{i + site.chains};" for i in range(site.hosts - site.chains))
    (root / "next.conf").write_text(f"map $n $next {{ default hub; {nexts} }}")  # the last hosts link the hub


def nginx_conf(site: Site, log: Path) -> str:
    """One worker, as root when root (nobody cannot read a mkdtemp folder), all text/html, robots.txt by map."""
    r, listen = site.root, f"listen 127.0.0.1:{site.port}"
    p1 = (r / "host/p/1").read_text()  # links $next, the host --chains further on
    return f"""worker_processes 1; pid {r}/nginx.pid; daemon off; worker_rlimit_nofile 20000; user root;
events {{ worker_connections 16384; multi_accept on; }}
http {{
  types {{ }} default_type text/html; charset off; sendfile on; tcp_nopush on;
  keepalive_requests 1000000; keepalive_timeout 120s;
  client_body_temp_path {r}/tmp; proxy_temp_path {r}/tmp; fastcgi_temp_path {r}/tmp; uwsgi_temp_path {r}/tmp;
  scgi_temp_path {r}/tmp; log_format brief '$host $request_uri $status'; access_log {log} brief buffer=256k flush=2s;
  map_hash_max_size {2 * site.hosts + 1024}; map_hash_bucket_size 64; include {r}/next.conf;
  map $n $robots {{
    "~(^|[02468])[048]$|[13579][26]$" disallow;
    "~(^|[02468])[159]$|[13579][37]$" missing;
    "~(^|[02468])[26]$|[13579][048]$" empty;
    default allow;
  }}
  server {{
    {listen} backlog=8192; server_name "~^h(?<n>\\d+)\\.million\\.test$"; root {r}/host;
    location = /robots.txt {{ default_type text/plain; root {r}/robots; try_files /$robots.txt =404; }}
    location = /p/1 {{ return 200 '{p1}'; }}
  }}
  server {{ {listen}; server_name hub.{DOMAIN}; root {r}/hub; }}
  server {{ {listen} default_server; server_name _; return 404; }}
}}
"""


def free_port() -> int:
    """A loopback port free for TCP and UDP both (dnsmasq listens on both)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        t.bind(("127.0.0.1", 0))
        u.bind(t.getsockname())  # taken for UDP: OSError, the run stops at once
        return int(t.getsockname()[1])


def wait_for(check: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    """Poll instead of sleeping a guessed time; fail loudly when the thing never comes up."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come up within {seconds:.0f} s")
        time.sleep(0.05)


def dns_answer(port: int, name: str) -> str | None:
    """The A record dnsmasq gives for ``name``: one raw UDP query, no resolver library."""
    query = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    query += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        try:
            s.sendto(query, ("127.0.0.1", port))
            reply = s.recv(512)
        except OSError:
            return None
    answers = struct.unpack(">H", reply[6:8])[0] if len(reply) >= 16 else 0
    return ".".join(str(b) for b in reply[-4:]) if answers else None  # one A answer: the last 4 bytes


@contextmanager
def services(site: Site, work: Path) -> Iterator[dict[str, Any]]:
    """nginx and dnsmasq for the length of the crawl; stopped after, dnsmasq's query count read."""
    (work / "nginx.conf").write_text(nginx_conf(site, work / "access.log"))
    dns_port, dns_log = free_port(), work / "dnsmasq.log"
    dnsmasq = [
        "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--no-poll", "--pid-file=", f"--port={dns_port}", "--listen-address=127.0.0.1", "--bind-interfaces",
        f"--address=/{DOMAIN}/127.0.0.1", f"--local=/{DOMAIN}/", "--address=/#/", "--local-ttl=300",
        "--cache-size=0", f"--log-facility={dns_log}",  # --address answers never touch the cache
    ]  # fmt: skip
    procs = {
        "nginx": subprocess.Popen(["/usr/sbin/nginx", "-c", str(work / "nginx.conf"), "-e", str(work / "error.log")]),
        "dnsmasq": subprocess.Popen(dnsmasq),
    }
    info: dict[str, Any] = {"dns_port": dns_port, "procs": procs}
    try:
        wait_for((site.root / "nginx.pid").exists, "nginx")  # written once it listens
        wait_for(lambda: dns_answer(dns_port, f"h0.{DOMAIN}") == "127.0.0.1", "dnsmasq")
        yield info
    finally:
        procs["dnsmasq"].send_signal(signal.SIGUSR1)  # dnsmasq logs its counters (a no-op once it is gone)
        time.sleep(0.3)
        for p in procs.values():
            p.terminate()
            p.wait(10)
        counts = re.findall(r"answered locally (\d+)", dns_log.read_text() if dns_log.exists() else "")
        info["dns_queries"] = int(counts[-1]) - 1 if counts else None  # less the readiness query


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, read from /proc (the parser process included)."""
    out, todo = [], [pid]
    while todo:
        out.append(p := todo.pop())
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def pss_kb(pids: list[int]) -> int:
    """Proportional set size summed: shared pages (the parser is forked) counted once, not twice."""
    total = 0
    for pid in pids:
        with suppress(OSError), open(f"/proc/{pid}/smaps_rollup") as f:
            total += next((int(line.split()[1]) for line in f if line.startswith("Pss:")), 0)
    return total


def sample(pids: list[int], cpu: dict[int, float]) -> int:
    """Resident KB of ``pids`` summed; each one's CPU seconds so far go into ``cpu``."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        total += int(fields[21]) * PAGE_KB
        cpu[pid] = (int(fields[11]) + int(fields[12])) / TICK
    return total


@dataclass
class Watch:
    """What one run of the crawler did, sampled every 0.25 s (0.05 s until its first new record)."""

    rc: int | None = None
    seconds: float = 0.0
    peak_kb: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("crawler", "nginx", "dnsmasq"), 0))
    peak_pss_kb: int = 0  # of the crawler's processes, read every 2 s
    cpu: dict[str, dict[int, float]] = field(default_factory=lambda: {"crawler": {}, "nginx": {}, "dnsmasq": {}})
    first_new_record_s: float | None = None
    killed_at: int | None = None
    orphans: list[int] = field(default_factory=list)
    series: list[tuple[int, int]] = field(default_factory=list)
    stderr: str = ""


def count_lines(path: Path, state: list[int]) -> int:
    """Complete lines in ``path``, reading only what was appended since the last call (state: offset, count)."""
    try:
        with open(path, "rb") as f:
            f.seek(state[0])
            chunk = f.read()
    except OSError:
        return state[1]
    end = chunk.rfind(b"\n") + 1
    state[0] += end
    state[1] += chunk.count(b"\n", 0, end)
    return state[1]


def crawl(args: argparse.Namespace, job: Path, records: Path, svc: dict[str, Any], kill_at: int | None) -> Watch:
    """Run ``crawler run JOB`` once (under --nofile), sampling memory, CPU and the record count."""
    w, state, pids = Watch(), [0, 0], []
    at_start = count_lines(records, state)
    limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, args.nofile))) if args.nofile else None
    errfile = job.with_name(f"stderr-{time.time_ns()}.txt")
    started = time.perf_counter()
    with open(errfile, "w") as err:
        proc = subprocess.Popen([args.crawler, "run", str(job)], stderr=err, stdout=err, preexec_fn=limit)
    while proc.poll() is None:
        for name, group in [*((n, tree(p.pid)) for n, p in svc["procs"].items()), ("crawler", pids := tree(proc.pid))]:
            w.peak_kb[name] = max(w.peak_kb[name], kb := sample(group, w.cpu[name]))
        w.series.append((lines := count_lines(records, state), kb))  # (records, the crawler's KB)
        if len(w.series) % 8 == 0:
            w.peak_pss_kb = max(w.peak_pss_kb, pss_kb(pids))
        if w.first_new_record_s is None and lines > at_start:
            w.first_new_record_s = round(time.perf_counter() - started, 2)
        if kill_at is not None and lines >= kill_at:
            os.kill(proc.pid, signal.SIGKILL)  # the main process only, as the OOM killer would
            w.killed_at = lines
            break
        time.sleep(0.05 if w.first_new_record_s is None else 0.25)
    w.rc = proc.wait()
    w.seconds = time.perf_counter() - started
    if w.killed_at is not None:
        time.sleep(2)  # a parser process that outlives its parent by 2 s is noted, then ended
        w.orphans = [p for p in pids[1:] if Path(f"/proc/{p}").exists()]  # init reaps the dead ones
        for p in w.orphans:
            os.kill(p, signal.SIGKILL)
    w.stderr = errfile.read_text()
    return w


def check(records: Path, log: Path, expected: set[str], refused: set[str], port: int) -> dict[str, Any]:
    """One record per expected URL? Outcomes, seconds per 1,000 pages by tenth, and what nginx was asked."""
    urls, outcomes, times = Counter[str](), Counter[str](), []
    with open(records, "rb") as f:
        for line in f:
            rec = json.loads(line)
            urls[rec["url"]] += 1
            outcomes[str(rec["status"]) if rec["error"] is None else rec["error"]["kind"]] += 1
            if rec["status"] == 200:
                times.append(datetime.fromisoformat(rec["fetched_at"]).timestamp())
    asked = Counter(f"http://{h}:{port}{u}" for h, u, _ in (e.split(" ") for e in log.read_text().splitlines()))
    times, n = sorted(times) or [0.0], max(1, len(times))  # a tenth: from its first page to the next tenth's first
    tenths = [(times[min(n - 1, (t + 1) * n // 10)] - times[t * n // 10]) * 10_000 / n for t in range(10)]
    return {
        "records": (lines := sum(urls.values())),
        "unique_urls": len(urls),
        "missing_urls": len(expected - urls.keys()),
        "unexpected_urls": len(urls.keys() - expected),
        "one_record_per_expected_url": lines == len(urls) and urls.keys() == expected,
        "outcomes": dict(outcomes.most_common()),
        "pages": outcomes["200"],
        "s_per_1000_pages_first_tenth": round(tenths[0], 3),
        "s_per_1000_pages_last_tenth": round(tenths[-1], 3),
        "s_per_1000_pages_by_tenth": [round(t, 2) for t in tenths],
        "last_over_first": round(tenths[-1] / tenths[0], 2) if tenths[0] else None,
        "requests": sum(asked.values()),
        "robots_txt_requests": sum(n for u, n in asked.items() if u.endswith("/robots.txt")),
        "refused_urls_requested": sum(asked[u] for u in refused),
        "urls_requested_twice": sum(1 for n in asked.values() if n > 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--crawler", default="./.venv/bin/crawler", help="the crawler executable")
    ap.add_argument("--hosts", type=int, default=100_000)
    ap.add_argument("--pages", type=int, default=10, help="pages per host, its / included")
    ap.add_argument("--chains", type=int, help="hosts the hub links; host i links i+C [hosts/20, 64..1000]")
    ap.add_argument("--concurrency", type=int, default=128)
    ap.add_argument("--nofile", type=int, help="run the crawler under this open-files limit")
    ap.add_argument("--out", type=Path, help="work folder: site, logs, crawl (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (kept anyway when a check fails)")
    ap.add_argument("--pins", action="store_true", help="resolve: pins instead of dnsmasq")
    ap.add_argument("--extra", action="append", default=[], metavar="KEY=VALUE", help="job option (YAML value)")
    ap.add_argument("--kill-at", type=float, metavar="FRACTION", help="kill -9 at this fraction, then resume")
    args = ap.parse_args()
    args.extra = {k: yaml.safe_load(v) for k, _, v in (item.partition("=") for item in args.extra)}
    work = args.out.resolve() if args.out else Path(tempfile.mkdtemp(prefix="million-"))
    if args.out and work.exists() and any(work.iterdir()):
        raise SystemExit(f"{work} is not empty (the script deletes nothing it did not make)")
    work.mkdir(parents=True, exist_ok=True)
    rc = run(args, work)  # an exception leaves the folder too, for a look
    if args.keep or rc:
        print(f"kept {work}", file=sys.stderr)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


def run(args: argparse.Namespace, work: Path) -> int:
    """Site, services, job; one crawl (or a killed one and its resume); then the report."""
    args.chains = args.chains or max(64, min(1000, args.hosts // 20))
    site = Site(work / "site", args.hosts, args.pages, free_port(), args.chains)
    write_site(site)
    expected, refused = site.expected()
    out, job_file = work / "crawl", work / "job.yaml"
    with services(site, work) as svc:
        job: dict[str, Any] = {"start_urls": [site.hub_url()], "allow_domains": [DOMAIN], "output": str(out)}
        job |= {"concurrency": args.concurrency, "per_host": 2, "progress": "log"}  # no fresh: resume must not
        if args.pins:
            names = [f"hub.{DOMAIN}", *(f"h{i}.{DOMAIN}" for i in range(args.hosts))]
            job["resolve"] = [f"{n}:{site.port}:127.0.0.1" for n in names]
        else:
            job["dns_servers"] = [f"127.0.0.1:{svc['dns_port']}"]
        job_file.write_text(json.dumps(job | args.extra))  # JSON is YAML
        kill_at = int(len(expected) * args.kill_at) if args.kill_at else None
        runs = [crawl(args, job_file, out / "records.jsonl", svc, kill_at)]
        if kill_at is not None:
            runs.append(crawl(args, job_file, out / "records.jsonl", svc, None))
    result = report(args, runs, svc, check(out / "records.jsonl", work / "access.log", expected, refused, site.port))
    ok = result["one_record_per_expected_url"] and result["refused_urls_requested"] == 0
    return 0 if runs[-1].rc == 0 and ok else 1


def report(args: argparse.Namespace, runs: list[Watch], svc: dict[str, Any], checked: dict[str, Any]) -> dict[str, Any]:
    """One JSON line on stdout, then the same as a table on stderr for people."""
    conns = re.findall(r"^connections: (\d+) new for \d+ requests", runs[-1].stderr, re.M)
    done = re.findall(r"^Done in [\d.]+s: \d+ URLs, (\d+) pages", runs[-1].stderr, re.M)  # this run's pages
    new_conns = int(conns[-1]) if conns else None
    wall, pages = sum(r.seconds for r in runs), checked["pages"]
    series, total = [s for r in runs for s in r.series], max(1, checked["records"])
    rss = [max((kb for n, kb in series if min(9, 10 * n // total) == t), default=0) / 1024 for t in range(10)]
    result: dict[str, Any] = {
        "setup": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "keep"},
        "nofile": args.nofile or resource.getrlimit(resource.RLIMIT_NOFILE)[0],
        "rc": [r.rc for r in runs],
        "wall_s": round(wall, 1),
        "pages_per_s": round(pages / wall, 1) if wall else None,
        "peak_rss_mb_crawler_by_tenth": [round(mb) for mb in rss],  # of the records
        **{f"peak_rss_mb_{name}": round(max(r.peak_kb[name] for r in runs) / 1024, 1) for name in runs[0].peak_kb},
        "peak_pss_mb_crawler": round(max(r.peak_pss_kb for r in runs) / 1024, 1),
        **{f"cpu_s_{name}": round(sum(sum(r.cpu[name].values()) for r in runs), 1) for name in runs[0].cpu},
        "cpu_s_crawler_by_process": [round(v, 1) for r in runs for v in r.cpu["crawler"].values()],  # main first
        "new_connections": new_conns,
        "new_connections_per_page": round(new_conns / int(done[-1]), 3)
        if new_conns and done and int(done[-1])
        else None,
        "dns_queries": svc.get("dns_queries"),
        **checked,
    }
    if len(runs) > 1:
        result |= {"killed_at": runs[0].killed_at, "orphans": runs[0].orphans, "restart_s": runs[1].first_new_record_s}
    result["stderr_tail"] = runs[-1].stderr.strip().splitlines()[-4:]
    print(json.dumps(result), flush=True)
    width = max(map(len, result))
    for k, v in result.items():
        print(f"  {k:<{width}}  {v}", file=sys.stderr)
    return result


if __name__ == "__main__":
    sys.exit(main())
