"""The examples in the docs work, so a doc line cannot drift from the code unnoticed.

The rules (``docs/recipes/index.md`` says them for writers), over ``README.md`` and every
Markdown file under ``docs/``:

- **Every YAML job passes ``crawler check``** (the CLI's own command, as a user validates a job,
  all of them in one process: ``tests/helpers/check_jobs.py``): each
  ```yaml block with a top-level ``start_urls:`` key or preceded by ``<!-- job -->`` (hooks looked
  up next to its page), and each ``*.yaml``/``*.yml`` file under ``configs/``, ``docs/recipes/``
  and ``examples/``, and under the rest of ``docs/`` when it has a top-level ``start_urls:``.
  A block marked ``<!-- file: PATH -->`` is checked as that file.
- **Every shell block preceded by ``<!-- runnable -->``** (```sh, ```bash, ```shell) exits 0 under
  ``bash -e``: in an empty folder where ``docs/``, ``configs/`` and ``examples/`` are the
  checkout's and ``crawler`` (also as ``.venv/bin/crawler``) is this Python's, with
  ``127.0.0.1:8765``, the demo site's address, replaced by the demo site this test serves on a
  free port.
- **A block preceded by ``<!-- file: PATH -->``** is exactly that file (PATH relative to the page).

A comment before a block that looks like a misspelled marker fails, since it would skip a check.
"""

from __future__ import annotations

import asyncio
import difflib
import json
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from crawler.demo.server import make_app
from tests.helpers.markdown_blocks import ROOT, Block, all_blocks

DEMO_ADDRESS = "127.0.0.1:8765"  # where configs/demo.yaml serves the demo site; the docs use it
JOB_FOLDERS = ("configs", "docs/recipes", "examples")  # every YAML file here is a job
SHELLS = ("sh", "bash", "shell")
CHECKOUT = ("docs", "configs", "examples")  # what a runnable block sees of the checkout
PARALLEL = 4  # commands at once: each is mostly a Python start-up
BLOCK_TIMEOUT = 120.0  # seconds a runnable block may take (they are meant to be quick)
_STARTS = re.compile(r"^start_urls\s*:", re.MULTILINE)


def is_job_block(block: Block) -> bool:
    return block.lang in ("yaml", "yml") and (block.marker == "job" or bool(_STARTS.search(block.text)))


def job_files() -> list[Path]:
    """The YAML job files: all of JOB_FOLDERS', and the rest of docs/'s with ``start_urls:``."""
    found = {p for folder in JOB_FOLDERS for p in (ROOT / folder).rglob("*.y*ml")}
    found |= {p for p in (ROOT / "docs").rglob("*.y*ml") if _STARTS.search(p.read_text(encoding="utf-8"))}
    return sorted(p for p in found if p.suffix in (".yaml", ".yml"))


def file_of(block: Block) -> Path | None:
    """The file a ``<!-- file: PATH -->`` block shows, or None."""
    if not block.marker.startswith("file:"):
        return None
    return (block.page.parent / block.marker.removeprefix("file:").strip()).resolve()


async def gathered(checks: Iterable[Awaitable[str | None]]) -> list[str]:
    """Run the checks PARALLEL at a time; the problems they report."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(check: Awaitable[str | None]) -> str | None:
        async with gate:
            return await check

    return [problem for problem in await asyncio.gather(*(one(c) for c in checks)) if problem]


async def checked(jobs: list[tuple[Path, Path]]) -> list[dict[str, Any]]:
    """``crawler check`` on each (job file, current directory): its exit code and output."""
    args = [str(arg) for job, cwd in jobs for arg in (cwd, job)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.helpers.check_jobs", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), BLOCK_TIMEOUT)
    assert proc.returncode == 0, err.decode()
    return [json.loads(line) for line in out.decode().splitlines()]


async def test_every_yaml_job_in_the_docs_passes_crawler_check(tmp_path: Path) -> None:
    files = job_files()
    assert {p.name for p in (ROOT / "docs" / "recipes").glob("*.yaml")} <= {p.name for p in files}
    jobs = {p: str(p.relative_to(ROOT)) for p in files}
    folders = dict.fromkeys(files, ROOT)
    for n, block in enumerate(b for b in all_blocks() if is_job_block(b) and file_of(b) is None):
        job = tmp_path / f"block-{n}.yaml"
        job.write_text(block.text, encoding="utf-8")
        jobs[job], folders[job] = block.where, block.page.parent  # its hooks: next to its page
    results = await checked([(job, folders[job]) for job in jobs])
    assert len(results) == len(jobs)
    problems = [f"{jobs[Path(r['job'])]}: exit {r['code']}: {r['output'].strip()}" for r in results if r["code"]]
    assert not problems, "\n".join(problems)


def test_markers_are_spelled_right() -> None:
    """``<!-- runable -->`` or ``<!-- file -->`` would quietly leave a block unchecked."""
    for block in all_blocks():
        word = block.marker.split(":")[0].split()[0] if block.marker else ""
        if difflib.get_close_matches(word.lower(), ("job", "runnable", "file"), cutoff=0.6):
            assert re.fullmatch(r"job|runnable|file:\s*\S.*", block.marker), f"{block.where}: <!-- {block.marker} -->"


def test_a_block_that_shows_a_file_is_that_file() -> None:
    shown = [(b, file_of(b)) for b in all_blocks() if file_of(b) is not None]
    assert len(shown) >= 8  # the recipes' job files and the SQLite hook
    for block, path in shown:
        assert path is not None and path.is_file(), f"{block.where}: {block.marker}: no such file"
        assert block.text == path.read_text(encoding="utf-8"), f"{block.where}: differs from {path}"


@pytest.fixture
async def demo_site() -> AsyncIterator[str]:
    """The bundled demo site (what ``crawler demo`` serves) on a free port: its ADDR:PORT."""
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


def checkout(folder: Path) -> dict[str, str]:
    """An empty folder that sees the checkout's docs, configs and examples, with a ``crawler``
    that is this Python's; the environment to run a block in it."""
    folder.mkdir()
    for name in CHECKOUT:
        (folder / name).symlink_to(ROOT / name)
    bin_dir = folder / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    shim = bin_dir / "crawler"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m crawler "$@"\n')
    shim.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


async def run_block(block: Block, folder: Path, demo: str) -> str | None:
    env = checkout(folder)
    script = block.text.replace(DEMO_ADDRESS, demo)
    proc = await asyncio.create_subprocess_exec(
        "bash", "-e", "-o", "pipefail", "-c", script, cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), BLOCK_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return f"{block.where}: still running after {BLOCK_TIMEOUT:g}s"
    if proc.returncode != 0:
        return f"{block.where}: exited {proc.returncode}:\n{out.decode(errors='replace')[-2000:]}"
    return None


async def test_every_runnable_shell_block_runs_against_the_demo_site(demo_site: str, tmp_path: Path) -> None:
    runnable = [b for b in all_blocks() if b.marker == "runnable"]
    assert all(b.lang in SHELLS for b in runnable), [b.where for b in runnable if b.lang not in SHELLS]
    recipes = {b.page.name for b in runnable if b.page.parent == ROOT / "docs" / "recipes"}
    assert recipes == {p.name for p in (ROOT / "docs" / "recipes").glob("*.md")} - {"index.md"}
    checks = [run_block(b, tmp_path / f"block-{n}", demo_site) for n, b in enumerate(runnable)]
    assert not (problems := await gathered(checks)), "\n".join(problems)
