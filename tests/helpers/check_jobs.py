"""``crawler check`` on many job files in one process: the command the ``crawler`` script runs
(``crawler.cli:main``), invoked once per file, so twenty checks cost one start-up, not twenty.
A process of its own, not the test's: checking imports the jobs' hooks and changes directory.

``python -m tests.helpers.check_jobs FOLDER JOB [FOLDER JOB …]`` checks each JOB with FOLDER as
the current directory (where hooks are also looked up) and prints one JSON line per job:
``{"job": JOB, "code": EXIT_CODE, "output": "…"}``.
"""

from __future__ import annotations

import json
import os
import sys

from click.testing import CliRunner

from crawler.cli import main


def check(folder: str, job: str) -> dict[str, object]:
    os.chdir(folder)
    result = CliRunner().invoke(main, ["check", job], prog_name="crawler")
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        output += f"{type(result.exception).__name__}: {result.exception}"  # a bug of ours, not the job's
    return {"job": job, "code": result.exit_code, "output": output}


if __name__ == "__main__":
    args = sys.argv[1:]
    for folder, job in zip(args[::2], args[1::2], strict=True):
        print(json.dumps(check(folder, job)), flush=True)
