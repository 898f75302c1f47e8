"""Helpers for tests that look for secrets in what a crawl left behind."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path


def read_output(path: Path) -> bytes:
    """A file's bytes as a reader would see them: ``.gz`` files (the WARC) decompressed."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def basic_credentials(auth: dict[str, str]) -> list[bytes]:
    """``user:password`` as an ``Authorization: Basic`` header carries it (base64)."""
    if not auth:
        return []
    return [base64.b64encode(f"{auth['user']}:{auth['password']}".encode())]
