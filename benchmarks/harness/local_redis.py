"""A throwaway redis-server on a free loopback port for the benchmarks (no persistence)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis


@contextmanager
def local_redis(prefix: str) -> Iterator[tuple[str, redis.Redis, Path]]:
    """(redis:// URL, a client, a scratch directory); the server and directory go away after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    work = Path(tempfile.mkdtemp(prefix=prefix))
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    try:
        for _ in range(100):  # bounded: about 5 s for the server to answer
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0", client, work
    finally:
        server.kill()
        shutil.rmtree(work, ignore_errors=True)
