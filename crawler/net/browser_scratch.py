"""Where the browser writes its temporary files, so that none outlives the crawl.

Playwright makes each browser a profile directory (~1 MB) and Chromium a directory for its
singleton socket, both in the temporary directory; they are removed when the browser closes, not
when it is killed (stuck, or the crawl killed with kill -9). So the crawl gives the browser a
scratch directory of its own (``crawler-browser-PID-…`` in the system's temporary directory):
a killed browser's profile is removed at once, the scratch directory when the crawl ends, and
one left by a crawl that was killed by the next crawl that renders.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

PREFIX = "crawler-browser-"
_OWNER = re.compile(re.escape(PREFIX) + r"(\d+)-")


def make() -> Path:
    """A new scratch directory, after removing those of crawls that are no longer running."""
    root = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            m = _OWNER.match(entry.name)
            if m and entry.is_dir(follow_symlinks=False) and not _alive(int(m.group(1))):
                shutil.rmtree(entry.path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))


@contextlib.contextmanager
def as_tmpdir(scratch: Path) -> Iterator[None]:
    """``TMPDIR`` is ``scratch`` while the Playwright driver starts: it copies this process's
    environment, and the browsers it launches inherit it. Python's own temporary directory is
    read (and kept by :mod:`tempfile`) before, so nothing else of the crawl moves there."""
    tempfile.gettempdir()
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(scratch)
    try:
        yield
    finally:
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before


def profile_of(pids: Iterable[int]) -> Path | None:
    """The profile directory of the browser among ``pids`` (its ``--user-data-dir``)."""
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith(b"--user-data-dir="):
                return Path(os.fsdecode(arg.partition(b"=")[2]))
    return None


def discard(profile: Path | None, scratch: Path | None) -> None:
    """Remove a killed browser's profile and its singleton socket's directory, when they are in
    ``scratch`` (never anything else)."""
    if profile is None or scratch is None or profile.parent != scratch:
        return
    with contextlib.suppress(OSError):
        socket_dir = Path(os.readlink(profile / "SingletonSocket")).parent
        if socket_dir.parent == scratch:
            shutil.rmtree(socket_dir, ignore_errors=True)
    shutil.rmtree(profile, ignore_errors=True)


def remove(scratch: Path | None) -> None:
    """Remove the scratch directory (the crawl's browsers are closed)."""
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
