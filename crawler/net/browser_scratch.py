"""Where the browser's temporary files go, so that none outlives the crawl.

Chromium makes a directory for its singleton socket (``org.chromium.Chromium.…``) in its temporary
directory, and Playwright a profile (``playwright_chromiumdev_profile-…``, ~1 MB) in the system's.
They are removed when the browser closes, not all of them when it is killed: stuck (the singleton
directory), or with the crawl by kill -9 (both). So each crawl that renders holds a scratch
directory (``crawler-browser-PID-…`` in the system's temporary directory, locked while the crawl
runs): Chromium's temporary directory, and the list of the profiles its browsers use. A killed
browser's files are removed at once, the scratch directory when the crawl ends, and one whose
crawl was killed by the next crawl that renders (it can take the lock: nobody holds it).

Chromium's singleton socket is a file in its temporary directory, and a socket's path has a length
limit: Chromium does not start in a temporary directory longer than ``SOCKET_DIR_MAX`` bytes. A
scratch directory that long (under a long ``TMPDIR``) is not given to Chromium, and a ``TMPDIR``
that long is named in the crawl's one error line (:func:`tmpdir_problem`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PREFIX = "crawler-browser-"
PROFILE = "playwright_chromiumdev_profile-"
SINGLETON = "org.chromium."
LOCK, PROFILES = ".lock", "profiles"
SOCKET_DIR_MAX = 62  # bytes of Chromium's temporary directory (measured: 62 starts, 63 does not)


@dataclass(frozen=True, slots=True)
class BrowserFiles:
    """One browser's profile and singleton directory (None: not found)."""

    profile: Path | None
    singleton: Path | None


class Scratch:
    """This crawl's scratch directory, locked until :meth:`close`."""

    def __init__(self, path: Path, lock: int) -> None:
        self.path = path
        self._lock = lock

    @classmethod
    def make(cls) -> Scratch | None:
        """A new scratch directory, after removing those of crawls that are not running any more
        (None when none can be made: the browser's files then go where they always went)."""
        root = Path(tempfile.gettempdir())
        for entry in root.glob(PREFIX + "*"):
            with contextlib.suppress(OSError):
                _sweep(entry)
        try:
            path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=root))
            # Locked before it gets its name: another crawl's sweep leaves a directory with no lock alone.
            lock = os.open(path / f"{LOCK}.new", os.O_CREAT | os.O_RDWR, 0o600)
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # (new: nobody else has it)
            os.rename(path / f"{LOCK}.new", path / LOCK)
        except OSError:
            return None
        return cls(path, lock)

    def env(self) -> dict[str, str | float | bool] | None:
        """The browser's environment: this process's, with the scratch directory as ``TMPDIR``
        (None, this process's as it is, when that path is too long for Chromium)."""
        if len(os.fsencode(self.path)) > SOCKET_DIR_MAX:
            return None
        return {**os.environ, "TMPDIR": str(self.path)}

    def files_of(self, pids: Iterable[int]) -> BrowserFiles:
        """The files of the browser just launched as ``pids``; its profile is listed for the sweep."""
        profile = _profile_of(pids)
        singleton = None
        if profile is not None:
            with open(self.path / PROFILES, "a") as listed:
                listed.write(f"{profile}\n")
            with contextlib.suppress(OSError):
                singleton = Path(os.readlink(profile / "SingletonSocket")).parent
        return BrowserFiles(profile, singleton)

    def discard(self, files: BrowserFiles | None) -> None:
        """Remove a killed browser's files (its singleton directory only from the scratch directory)."""
        if files is not None:
            _remove(files.profile, Path(tempfile.gettempdir()), PROFILE)
            _remove(files.singleton, self.path, SINGLETON)

    def close(self) -> None:
        """Remove the scratch directory (the crawl's browsers are closed) and let go of its lock."""
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._lock)


def _sweep(entry: Path) -> None:
    """Remove a scratch directory of this user whose crawl is gone (nobody holds its lock), and
    the profiles it lists. Raises OSError when it is in use or not one of ours."""
    if entry.is_symlink() or entry.stat().st_uid != os.getuid():
        return
    lock = os.open(entry / LOCK, os.O_RDWR)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError: its crawl runs
        with contextlib.suppress(OSError):
            for line in (entry / PROFILES).read_text().splitlines():
                _remove(Path(line), entry.parent, PROFILE)
        shutil.rmtree(entry, ignore_errors=True)
    finally:
        os.close(lock)


def _remove(path: Path | None, parent: Path, prefix: str) -> None:
    """Remove ``path`` only if it is a directory of this user named ``prefix…`` right in ``parent``."""
    if path is None or not path.name.startswith(prefix) or path.parent.resolve() != parent.resolve():
        return
    with contextlib.suppress(OSError):
        if not path.is_symlink() and path.stat().st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)


def _profile_of(pids: Iterable[int]) -> Path | None:
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


def tmpdir_problem() -> str | None:
    """Why Chromium cannot start in this process's temporary directory, or None."""
    length = len(os.fsencode(os.environ.get("TMPDIR") or "/tmp"))  # (Chromium reads TMPDIR alone)
    if length <= SOCKET_DIR_MAX:
        return None
    return (
        f"TMPDIR is {length} bytes long, and Chromium's socket in it needs one of at most "
        f"{SOCKET_DIR_MAX}: set TMPDIR to a shorter directory"
    )
