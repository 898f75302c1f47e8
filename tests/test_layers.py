"""The layers hold: the import rules in ``pyproject.toml`` (``[tool.importlinter]``, drawn in
docs/architecture.md) are checked on every test run, so no stage can import the Job or reach up
into the pipeline, the wiring or a command without a failing test naming the import."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_rules_hold(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert code == 0, capsys.readouterr().out
