"""Reading a job: a YAML file with the line of every key, CLI values over the file's, and every
validation problem as a :class:`ConfigError` with one readable line naming the field and, for
YAML, the line it came from (or the flag that set it)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from crawler.config import Job
from crawler.core.errors import ConfigError
from crawler.job_values import BlockedRule, Timeouts

if TYPE_CHECKING:
    import yaml

KeyPath = tuple[str | int, ...]  # a YAML key's path: mapping keys and list indexes

FIELDS = set(Job.model_fields)
NESTED = {"timeout": set(Timeouts.model_fields), "blocked_when": set(BlockedRule.model_fields)}  # keys of their own


def build_job(
    data: dict[str, Any],
    *,
    source: str = "",
    lines: dict[KeyPath, int] | None = None,
    flags: dict[str, str] | None = None,
) -> Job:
    """Validate ``data`` into a Job, or raise ConfigError naming the first bad field.

    ``lines`` maps YAML key paths to line numbers; ``flags`` maps fields given on the command line
    (``timeout.read`` for timeouts) to the flag that set them, which the message then names.
    """
    try:
        return Job.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e.errors()[0], source, lines or {}, flags or {})) from None


def load_yaml(path: Path) -> tuple[dict[str, Any], dict[KeyPath, int]]:
    """Read a job file with safe_load semantics; return its mapping and key → line numbers."""
    import yaml  # here, not at the top: a crawl without a job file starts 12 ms sooner

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read job file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: job file is not UTF-8 text") from None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 100,000 seeds in 1 s, not 11 s
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)  # a safe loader: plain data only
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a job file must be a mapping of keys to values")
    return data, _line_map(node)


def merge(file_data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """CLI values over file values; headers and cookies merge key by key, lists are replaced."""
    merged = dict(file_data)
    for key, value in overrides.items():
        if key in ("headers", "cookies") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "timeout" and isinstance(value, dict):
            base = merged.get(key)
            base = {"total": base} if isinstance(base, (int, float)) else dict(base or {})
            merged[key] = {**base, **value}
        else:
            merged[key] = value
    return merged


def _line_map(node: yaml.Node | None, prefix: KeyPath = ()) -> dict[KeyPath, int]:
    import yaml

    lines: dict[KeyPath, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            loc = prefix + (key.value,)
            lines[loc] = key.start_mark.line + 1
            lines.update(_line_map(value, loc))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + (i,)] = item.start_mark.line + 1
            lines.update(_line_map(item, prefix + (i,)))
    return lines


def _describe(err: Mapping[str, Any], source: str, lines: dict[KeyPath, int], flags: dict[str, str]) -> str:
    loc = tuple(err["loc"])
    field = ".".join(str(p) for p in loc) or "job"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        names = NESTED.get(str(loc[0]), FIELDS) if len(loc) > 1 else FIELDS
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        msg = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif err["type"] == "missing":
        msg = "required but missing"
    if not loc:  # a rule across fields: its message names them
        return f"{source}: {msg}" if source else msg
    flag = flags.get(".".join(str(p) for p in loc[:2]) if loc[:1] == ("timeout",) else str(loc[0]))
    if flag:
        return f"{flag}: {msg}"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = f"{source} line {line}: " if source and line else (f"{source}: " if source else "")
    return f"{where}{field}: {msg}"
