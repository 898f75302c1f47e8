"""The tools at a million records (issue 26): ``crawler status``, ``report`` and ``merge`` on a
1M-URL job, and what a resume of it costs half-way.

Usage: .venv/bin/python benchmarks/scenarios/big_job.py [--hosts 100000] [--per-host 10]
           [--work DIR] [--reuse] [--crawler PATH] [--no-crawl]

1. Builds (``benchmarks.harness.big_job_data``) in WORK: ``job/`` (the finished job: records.jsonl,
   state.sqlite, stats.jsonl), ``half/`` (the same job killed when half its URLs had
   their record, a few thousand in flight),
   ``shared/shards/w1, w2`` (the job as two workers' shards, 1,000 URLs recorded twice, a torn
   line) and ``job.yaml`` (its seeds). ``--reuse`` keeps what WORK already holds.
2. Runs ``crawler status WORK/job``, ``crawler report WORK/job`` and ``crawler merge WORK/shared``
   under ``/usr/bin/time -v``: wall seconds and peak RSS.
3. Resume, in steps: on a copy of ``half/``, the engine's own calls timed one by one in a child
   process (repair of records.jsonl, ``SqliteFrontier.open``, ``hosts_with_work``, the first lease).
4. Resume, whole (unless ``--no-crawl``): ``crawler run WORK/job.yaml -o COPY`` against a local server
   answering for every host (0.0.0.0:PORT; the hosts are 127/8 addresses), timed from launch to the
   first new line of records.jsonl; then the crawl is interrupted (SIGINT).

Steps 2-4 measure whichever ``crawler`` the interpreter imports: ``PYTHONPATH=OLD_TREE`` (with
``--reuse``) measures an older one on the same job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def harness() -> None:
    """The repo root on sys.path for ``benchmarks.harness``: only when building or serving, so
    the timed steps run whichever ``crawler`` the interpreter imports (``PYTHONPATH=OLD_TREE``)."""
    sys.path.insert(0, str(ROOT))  # the repo root: benchmarks.harness, tests, crawler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--per-host", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "big-job")
    parser.add_argument("--reuse", action="store_true", help="keep the job WORK already holds")
    parser.add_argument("--crawler", default=str(ROOT / ".venv/bin/crawler"))
    parser.add_argument("--no-crawl", action="store_true", help="skip the whole resumed crawl (step 4)")
    parser.add_argument("--resume-steps", type=Path, help=argparse.SUPPRESS)  # the child of step 3
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the site of step 4
    args = parser.parse_args()
    if args.resume_steps:
        print(json.dumps(asyncio.run(resume_steps(args.resume_steps))))
        return
    if args.serve:
        harness()
        from benchmarks.harness.big_job_data import serve

        serve(args.serve)
        return
    work: Path = args.work
    if not (args.reuse and (work / "params.json").is_file()):
        build(work, args.hosts, args.per_host)
    params = json.loads((work / "params.json").read_text())
    print(f"job: {params['hosts']:,} hosts × {params['per_host']} URLs, port {params['port']}, in {work}")
    for name in ("job", "half", "shared/shards/w1", "shared/shards/w2"):
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:,.0f} MB" for p in sorted((work / name).glob("*.*")))
        print(f"  {name}: {sizes}")
    crawler = args.crawler
    tool(f"crawler status {work}/job", [crawler, "status", str(work / "job")])
    tool(f"crawler report {work}/job", [crawler, "report", str(work / "job")])
    tool(f"crawler merge {work}/shared", [crawler, "merge", str(work / "shared")])
    copy = fresh_copy(work / "half", work / "resume-steps")
    tool(
        "resume steps (repair, open, hosts_with_work, first lease) on half/",
        [sys.executable, __file__, "--resume-steps", str(copy)],
    )
    if not args.no_crawl:
        whole_resume(work, crawler, params["port"])


def build(work: Path, hosts: int, per_host: int) -> None:
    """The job's outputs in ``work`` (anything there before is removed)."""
    harness()
    from benchmarks.harness.big_job_data import build as build_job
    from benchmarks.harness.big_job_data import host_of, make_shards

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = free_port()
    t0 = time.perf_counter()
    (work / "job").mkdir()
    asyncio.run(build_job(work / "job", work / "half", hosts, per_host, port))
    t1 = time.perf_counter()
    make_shards(work / "job", work / "shared")
    t2 = time.perf_counter()
    seeds = "".join(f"  - http://{host_of(n, port)}/\n" for n in range(hosts))
    (work / "job.yaml").write_text(
        f"name: big\nstart_urls:\n{seeds}concurrency: 128\nper_host: 2\nretries: 1\nquiet: true\n"
    )
    (work / "params.json").write_text(json.dumps({"hosts": hosts, "per_host": per_host, "port": port}))
    print(f"built job and half-way copy in {t1 - t0:.1f} s, shards in {t2 - t1:.1f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def fresh_copy(src: Path, dst: Path) -> Path:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)
    return dst


def tool(label: str, command: list[str]) -> tuple[float, float]:
    """Run ``command`` under ``/usr/bin/time -v``; print and return (wall s, peak RSS MB)."""
    t0 = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    rss = int(found.group(1)) / 1024 if found else float("nan")
    print(f"{label}: {wall:.1f} s, peak RSS {rss:,.0f} MB, exit {done.returncode}")
    for line in done.stdout.strip().splitlines()[:6]:
        print(f"    {line}")
    if done.returncode:
        print(done.stderr[-2000:])
    return wall, rss


async def resume_steps(out: Path) -> dict[str, float | int]:
    """The engine's resume, call by call (crawler.engine.Crawl._open, then crawler.seeds.start), timed."""
    from crawler.frontier.sqlite import SqliteFrontier
    from crawler.sinks import outdir

    steps: dict[str, float | int] = {}
    t = time.perf_counter()
    steps["damaged"] = outdir.repair(out)
    steps["repair_s"] = round(time.perf_counter() - t, 2)
    frontier = SqliteFrontier(out / "state.sqlite", out / "records.jsonl")
    t = time.perf_counter()
    steps["done"] = await frontier.open()
    steps["open_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    hosts = await frontier.hosts_with_work()
    steps["hosts_with_work_s"], steps["hosts"] = round(time.perf_counter() - t, 2), len(hosts)
    t = time.perf_counter()
    leases = await frontier.lease({hosts[0]: 2}, 30)
    steps["first_lease_s"], steps["leased"] = round(time.perf_counter() - t, 4), len(leases)
    counts = await frontier.counts()
    steps["queued"] = counts.queued
    await frontier.close()
    return steps


def whole_resume(work: Path, crawler: str, port: int) -> None:
    """``crawler run job.yaml`` on a copy of the half-way job: seconds to its first new record."""
    copy = fresh_copy(work / "half", work / "resume-run")
    records = copy / "records.jsonl"
    before = records.stat().st_size
    site = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        wait_for_port(port)
        t0 = time.perf_counter()
        run = subprocess.Popen([crawler, "run", str(work / "job.yaml"), "-o", str(copy), "-q"])
        first = None
        while run.poll() is None and time.perf_counter() - t0 < 600:
            if records.stat().st_size > before:
                first = time.perf_counter() - t0
                break
            time.sleep(0.05)  # a measurement's poll, not synchronisation: the crawl runs on regardless
        run.send_signal(signal.SIGINT)
        run.wait(60)
    finally:
        site.terminate()
        site.wait()
    shown = f"{first:.1f} s" if first is not None else "none within 600 s"
    print(f"crawler run {work}/job.yaml -o {copy} (resume at half-way): first new record after {shown}")


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the site did not start on port {port}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
