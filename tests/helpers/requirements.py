"""A pytest plugin (registered in ``tests/conftest.py``): before a full run, the programs the tests
run for real are checked once, so a machine without them gets one line naming what to install
instead of many failing tests. ``.ci/setup --check`` keeps the list and words the line.

A partial run (files or tests named, ``-k``, ``-m``) is not checked: it may need none of them, and
a test that does need one says which itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SETUP = ROOT / ".ci" / "setup"


def is_full_run(config: pytest.Config) -> bool:
    """No selection: the default test paths, or the tests directory (or the checkout) named."""
    if config.option.keyword or config.option.markexpr:
        return False
    whole = {ROOT, ROOT / "tests"}
    return all(Path(config.invocation_params.dir, arg).resolve() in whole for arg in config.args)


def missing_line() -> str | None:
    """``.ci/setup --check``'s line when something is missing (for this interpreter), else None."""
    done = subprocess.run(
        ["bash", str(SETUP), "--check"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
        timeout=60,
    )
    if done.returncode == 0:
        return None
    return done.stderr.strip() or f".ci/setup --check failed (exit {done.returncode})"


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the main process has checked
        return
    if SETUP.is_file() and is_full_run(config) and (line := missing_line()):
        raise pytest.UsageError(f"{line} (or run: bash .ci/setup)")
