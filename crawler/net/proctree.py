"""Processes below this one, read from Linux's /proc: the browser's memory for the render cap
(``render_memory_mb``), and for the benchmarks' and tests' view of a crawl's process tree."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (an empty set where /proc is missing)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it exited while we looked
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def running(pids: Iterable[int], executable: str) -> set[int]:
    """The processes among ``pids`` that run ``executable`` (a browser's zygote and renderers
    are forks of the same binary)."""
    target = os.path.realpath(executable)
    found = set()
    for pid in pids:
        try:
            if os.readlink(f"/proc/{pid}/exe") == target:
                found.add(pid)
        except OSError:
            continue
    return found


def pss_mb(pids: Iterable[int]) -> float:
    """Proportional set size of ``pids`` together, in MB: shared pages are split between the
    processes sharing them, so a browser's many processes are not counted many times over."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total / 1024
