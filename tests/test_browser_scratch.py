"""The browser's scratch directory (crawler/net/browser_scratch.py), in a temporary directory of
the test's own: what the next crawl that renders removes (a killed crawl's files) and what it
must leave (a running crawl's, another user's, anything else)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from crawler.commands.check import try_url
from crawler.config import Job
from crawler.core.errors import RenderUnavailable, StateError
from crawler.engine import Crawl
from crawler.net.browser_scratch import LOCK, PREFIX, PROFILE, PROFILES, BrowserFiles, Scratch
from crawler.net.proctree import descendants
from tests.helpers.output import read_records


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def scratch(tmp: Path) -> Scratch:
    made = Scratch.make()
    assert made is not None and made.path.parent == tmp and made.path.name.startswith(f"{PREFIX}{os.getpid()}-")
    return made


def killed_crawl(tmp: Path, name: str, *profiles: Path) -> Path:
    """What a crawl killed with kill -9 leaves: its scratch directory (lock held by nobody) and the
    profiles it lists."""
    left = tmp / name
    left.mkdir()
    (left / LOCK).touch()
    (left / "org.chromium.Chromium.x").mkdir()
    for profile in profiles:
        profile.mkdir()
        (profile / "Default").mkdir()
    (left / PROFILES).write_text("".join(f"{p}\n" for p in profiles))
    return left


def test_a_killed_crawls_files_go_and_a_running_crawls_stay(tmp):
    profile = tmp / f"{PROFILE}abc"
    left = killed_crawl(tmp, f"{PREFIX}1-old", profile)
    running = scratch(tmp)  # a crawl that runs: it holds its lock
    (running.path / PROFILES).write_text(f"{tmp / (PROFILE + 'live')}\n")
    (tmp / f"{PROFILE}live").mkdir()
    mine = scratch(tmp)
    assert not left.exists() and not profile.exists()
    assert running.path.exists() and (tmp / f"{PROFILE}live").exists()
    mine.close()
    running.close()
    assert list(tmp.iterdir()) == [tmp / f"{PROFILE}live"]  # (Playwright removes a closed browser's)


async def test_a_lock_held_by_another_process_keeps_its_directory(tmp):
    other = killed_crawl(tmp, f"{PREFIX}2-other")
    code = f"import fcntl, os, sys; fd = os.open({str(other / LOCK)!r}, os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and await proc.stdout.readline() == b"held\n"
        scratch(tmp).close()
        assert other.exists()  # (a crawl in another PID namespace: its PID would mean nothing here)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        await proc.wait()
    scratch(tmp).close()
    assert not other.exists()


def test_what_is_not_a_killed_crawls_scratch_directory_stays(tmp):
    odd = tmp / f"{PREFIX}99999999999999999999-x"  # no lock: not ours to judge
    odd.mkdir()
    target = tmp / "elsewhere"
    target.mkdir()
    link = tmp / f"{PREFIX}3-link"
    link.symlink_to(target)
    (target / LOCK).touch()
    file = tmp / f"{PREFIX}4-file"
    file.write_text("x")
    outside = tmp / "keep" / f"{PROFILE}deep"  # listed, but not right in the temporary directory
    outside.mkdir(parents=True)
    wrong_name = tmp / "important"
    wrong_name.mkdir()
    left = killed_crawl(tmp, f"{PREFIX}5-old")
    (left / PROFILES).write_text(f"{outside}\n{wrong_name}\n{tmp}/{PROFILE}x/..\n{tmp}\n")
    scratch(tmp).close()
    assert not left.exists()
    assert odd.exists() and target.exists() and link.exists() and file.exists()
    assert outside.exists() and wrong_name.exists() and tmp.exists()


def test_a_killed_browsers_files_only(tmp):
    mine = scratch(tmp)
    profile, singleton = tmp / f"{PROFILE}k", mine.path / "org.chromium.Chromium.k"
    for d in (profile, singleton):
        d.mkdir()
    (profile / "SingletonSocket").symlink_to(singleton / "SingletonSocket")
    files = mine.files_of([])  # (no process: nothing found)
    assert files.profile is None and files.singleton is None
    mine.discard(BrowserFiles(profile, Path(os.readlink(profile / "SingletonSocket")).parent))
    assert not profile.exists() and not singleton.exists() and mine.path.exists()
    mine.discard(BrowserFiles(tmp / "elsewhere-profile", tmp))  # not a profile, not in the scratch: kept
    assert tmp.exists()
    mine.close()
    assert not mine.path.exists()


def scratch_dirs() -> set[Path]:
    """This process's scratch directories in the system's temporary directory (Chromium's socket
    path must stay short: a test's own temporary directory is too deep for it)."""
    return set(Path(tempfile.gettempdir()).glob(f"{PREFIX}{os.getpid()}-*"))


@pytest.mark.parametrize("stops", ["the browser cannot start", "the state file is damaged"])
async def test_a_crawl_that_stops_as_it_starts_leaves_no_browser_and_no_files(tmp_path, site, stops):
    """A rendering crawl that stops before its first page (the browser does not start, or the job's
    state cannot be read once it has) ends its browser's driver and removes its scratch directory:
    a long-lived program that runs crawls keeps neither."""
    job = {"start_urls": [site.url("a.test")], "output": str(tmp_path / "o"), "render": ["*"]}
    if stops == "the browser cannot start":
        job["render_browser"] = str(tmp_path / "no-chromium-here")
        expected: type[Exception] = RenderUnavailable
    else:
        (tmp_path / "o").mkdir()
        (tmp_path / "o" / "state.sqlite").write_bytes(b"not a database " * 100)
        expected = StateError
    processes, files = descendants(os.getpid()), scratch_dirs()
    with pytest.raises(expected):
        await Crawl(Job.model_validate(job)).run()
    assert not scratch_dirs() - files
    assert not descendants(os.getpid()) - processes  # no Playwright driver, no browser


@pytest.mark.parametrize("length", [50, 63])
async def test_a_long_tmpdir_renders_or_says_why_not(site, tmp_path, length):
    """Chromium's socket goes in its temporary directory, whose path may be 62 bytes at most. Under
    a TMPDIR of 50 the scratch directory would be longer: Chromium gets TMPDIR itself and the page
    renders. A TMPDIR of 63 the crawl names in its one error line, instead of Chromium's own
    "browser has been closed"."""
    base = tempfile.mkdtemp(prefix="crawl-test-", dir="/tmp")
    tmpdir = Path(base + "/" + "t" * (length - len(base) - 1))
    tmpdir.mkdir()
    assert len(str(tmpdir)) == length
    site.html("js.test", "/", "<h1>rendered</h1>")
    await site.start()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "crawler", "crawl", site.url("js.test"), "--resolve", site.pin("js.test")[0],
            "-o", str(tmp_path / "o"), "--render", "*", "--ignore-robots", "-q",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ, "TMPDIR": str(tmpdir)},
        )  # fmt: skip
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        lines = err.decode().strip().splitlines()
        if length == 50:
            assert proc.returncode == 0, lines
            (record,) = read_records(tmp_path / "o")
            assert record["rendered"] and record["error"] is None
        else:
            assert proc.returncode != 0 and len(lines) == 1
            assert "TMPDIR is 63 bytes long" in lines[0] and "set TMPDIR to a shorter directory" in lines[0]
        assert not list(tmpdir.glob(f"{PREFIX}*"))
    finally:
        shutil.rmtree(base)


async def test_check_url_of_a_rendering_job_leaves_no_browser(site, tmp_path):
    """``crawler check --url`` loads the page as the crawl would, in the browser, and closes it."""
    site.html("js.test", "/", "<h1>checked</h1>")
    await site.start()
    job = {"start_urls": [site.url("js.test")], "output": str(tmp_path / "o"), "render": ["*"]}
    job["resolve"] = site.pin("js.test")
    processes, files = descendants(os.getpid()), scratch_dirs()
    report = await try_url(Job.model_validate(job), site.url("js.test"))
    assert "rendered in the browser" in report
    assert not scratch_dirs() - files
    assert not descendants(os.getpid()) - processes
