"""The command line as a user runs it, in a real process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path


async def run_cli(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """``python -m crawler ARGS`` as a user runs it: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "crawler", *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
