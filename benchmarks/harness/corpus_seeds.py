"""The start URLs of the benchmark corpus (../shared/bench/corpus.sh), for the chosen sites."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SHARED = Path(os.environ.get("SHARED", Path(__file__).resolve().parents[3] / "shared"))
SITES = ["python", "postgres", "django"]  # compare.sh's default


def corpus_seeds(sites: list[str] | None = None) -> list[str]:
    out = subprocess.run(
        ["bash", str(SHARED / "bench/corpus.sh"), "seeds"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [u for u in out if any(f"//{s}." in u for s in sites or SITES)]
