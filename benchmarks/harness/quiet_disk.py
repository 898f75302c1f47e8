"""Wait for the disk to go quiet before a timed run.

A run that writes tens of thousands of small files leaves the kernel busy long after it ends:
write-back, and on a filesystem mounted with ``discard`` the trims of the previous run's deleted
files. A run started then pays for its predecessor (measured on the 20,000-host crawl: 58 s and
75 s for the same build, back to back). So each run starts once the kernel's I/O pressure
(``/proc/pressure/io``, "some" over 10 s) is below ``QUIET`` percent, after a ``sync``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PRESSURE = Path("/proc/pressure/io")
QUIET = 2.0  # percent of the last 10 s in which some task waited for I/O
LONGEST = 120.0  # seconds; a disk that never settles is reported, not waited on forever


def io_pressure() -> float | None:
    """The share of the last 10 s (percent) in which some task waited on I/O; None without PSI."""
    try:
        some = PRESSURE.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    return float(dict(field.split("=") for field in some[1:])["avg10"])


def wait_for_quiet_disk() -> float | None:
    """``sync``, then wait (bounded) until I/O pressure is below QUIET; returns the last reading."""
    os.sync()
    deadline = time.monotonic() + LONGEST
    pressure = io_pressure()
    while pressure is not None and pressure >= QUIET and time.monotonic() < deadline:
        time.sleep(1.0)  # a benchmark harness polling the kernel: no event to wait on
        pressure = io_pressure()
    return pressure
