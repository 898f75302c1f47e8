"""The Job stays above the stages: below the engine, no module imports ``crawler.config``; each
component takes its own settings, built from the Job in ``crawler/wiring.py`` alone."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "crawler"
# the job schema itself, the commands and the public API above the engine, and the wiring
ABOVE_THE_STAGES = {
    "__init__",
    "config",
    "jobfile",
    "cli",
    "api",
    "engine",
    "wiring",
    "check",
    "commands",
    "demo",
    "bench",
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_stage_imports_the_job() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0].removesuffix(".py") not in ABOVE_THE_STAGES
        and any(name == "crawler.config" or name.startswith("crawler.config.") for name in imported(path))
    ]
    assert offenders == []
