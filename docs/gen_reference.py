"""Write the site's reference pages (docs/reference/*.md) from the code, so they cannot drift.

    python docs/gen_reference.py            # rewrite docs/reference/
    python docs/gen_reference.py --out DIR  # write elsewhere (tests/test_docs_reference.py compares)

What each page is read from:

- job-options.md: the one job schema, ``crawler.config.Job`` (names, types, defaults), the CLI's
  ``crawler.commands.options.OPTIONS`` (flags and their help, the description of every option that
  has a flag), ``YAML_ONLY`` below (the description of every key without a flag), and the
  schema's sections (``crawler.job_values``, ``crawler.parsing.rules``: docstrings and the comments
  beside fields).
- cli.md: the click commands of ``crawler.cli.main`` (usage, help, arguments, options).
- api.md: ``crawler.__all__`` (signatures, types and docstrings).
- output.md: the line formats as the code writes them (``Record.as_json``, ``PageContent.line``,
  ``StatsLog``, ``changes.jsonl``'s fields), the state file's format version.
- errors.md: ``crawler.core.errors`` (``Kind``, the ``CrawlerError`` family) and the exit codes.

Deterministic: the same code gives the same bytes. Imports crawler only (no docs tooling).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import html
import inspect
import io
import re
import sys
import tempfile
import textwrap
import tokenize
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

import crawler
from crawler import __version__, cli
from crawler.commands import options
from crawler.config import Job
from crawler.core import errors
from crawler.core.content import Chunk, PageContent
from crawler.core.formats import RECORD_FORMAT
from crawler.core.record import Record
from crawler.frontier.sqlite_state import VERSION as STATE_VERSION
from crawler.observe.stats import Stats
from crawler.observe.statslog import StatsLog
from crawler.recrawl import _CHANGE_FIELDS

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "reference"
COMMAND = "python docs/gen_reference.py"

# Job keys that have no CLI flag: their one-line description (every other key's is its flag's help).
YAML_ONLY = {
    "start_urls": "Seeds: always fetched, in any scope. On the command line: the URL arguments.",
    "retry_backoff": "Base of the exponential backoff (with jitter) between retries, in seconds.",
    "max_retry_after": "Cap on a `Retry-After` the crawl honours (seconds or an HTTP date), in seconds.",
    "max_parse_bytes": "HTML kept in memory for link extraction, in bytes.",
    "recrawl_rules": "`{match, after}`: re-crawl intervals per URL pattern (glob or `re:` regex, first match wins).",
    "extract": "Extraction rules: items from pages whose URL matches (see *Extraction rules*).",
    "follow": "Follow rules: with any, a link must satisfy one of them (a region, a URL regex or both).",
    "render_block": "Resource types the browser does not load.",
    "render_viewport": "The browser window, `WIDTHxHEIGHT` (100-10000 pixels each).",
    "render_browser": "The Chromium binary.",
    "render_memory_mb": "Browser memory (proportional set size, MB) past which it is replaced.",
    "proxies": "A pool of proxies (URLs as for `proxy`), used by `proxy_rotation`.",
    "proxy_pools": "Named pools of proxies, for `proxy_rules` and the request hook.",
    "proxy_rules": "`{match, proxy}` routes: a host glob or `re:` regex to a pool name, a proxy URL or `direct`.",
    "proxy_cooldown": "Seconds a failing proxy rests, doubling per consecutive failure up to 5 minutes.",
    "proxy_wait": "Seconds a request waits for a usable proxy of its pool before a `proxy` error.",
    "proxy_retries": "Moves of one request to another proxy (or identity), not counted in `retries`.",
    "proxy_ban_status": "Statuses that mean a proxy is banned (through a proxy).",
    "proxy_ban_body": "A regex on the body that means a proxy is banned (through a proxy).",
    "blocked_when": "Rules that tell a blocked page (a challenge page) from a page: error kind `blocked`.",
    "blocked_defaults": "Also the built-in rules for the common bot walls (`crawler/core/blocked.py`).",
    "transport_rules": "`{match, transport, impersonate}`: the transport per URL pattern; the first match wins.",
    "login": "`{url, form, fields, check, covers, hook}`: log the identities in.",
}

# What each error kind means, one line (tests fail when a kind is added to Kind without one here).
KINDS = {
    "dns": "The name does not exist (not retried), or the lookup failed (retried).",
    "connect": "No connection to the host (refused, unreachable: directly, or as the proxy reported); retried.",
    "timeout": "A connect, read or total timeout ran out.",
    "tls": "The TLS handshake or the certificate check failed.",
    "proxy": "The proxy failed (unreachable, timed out, rejected the credentials), or no proxy was usable.",
    "http": "The answer's status was 400 or more.",
    "too_large": "The decoded body passed `max_bytes` (lying lengths and gzip bombs end here too).",
    "aborted": "The connection was lost or the body cut short mid-answer; retried.",
    "decode": "The body could not be decoded (a broken or unsupported Content-Encoding).",
    "redirect": (
        "A redirect not followed: its target is unusable, out of scope or too long, or past `max_redirects`; "
        "rendered, also one robots.txt refuses."
    ),
    "robots": "robots.txt disallows the URL, or could not be read while its retries lasted.",
    "invalid_url": "The HTTP client refused the URL as invalid.",
    "protocol": "A bad response (broken status line, headers or framing), or another failure of the transport.",
    "storage": "The body (or a rendered page's screenshot or WARC record) could not be written to disk.",
    "blocked": "A blocked page (a challenge page, `blocked_when`), or an address `block_private_ips` refuses.",
    "login": "The login failed, or a covered page still looked logged out after it.",
    "hook": "The `parse` hook raised on the page, or the `request` hook raised or chose an unusable proxy.",
    "render": "The browser could not load the page in time (timeout, crash).",
    "local": "This machine ran out of something (files, sockets, memory, disk); retried, so rare in records.",
    "internal": "A bug of the crawler's: the run also prints a warning naming it.",
}

# The exit codes of `crawler` (checked against the literal codes in cli.py and commands/).
EXIT_CODES = {
    0: "The crawl completed, even if some URLs failed (their records say why).",
    1: "A fatal error: the state cannot be saved or read (`CheckpointError`, `StateError`), the output "
    "folder is in use (`LockedError`), only local failures for 30 s (`StalledError`), Redis unusable "
    "(`ClusterError`), no usable browser (`RenderUnavailable`), a worker of `--processes` failed. "
    "Resumable: run the same command again.",
    2: "Bad input: a job key, value, URL, regex, header or hook path, refused before anything is written "
    "(`ConfigError`); a `--metrics` address or Redis database found unusable as the crawl starts.",
    130: "Interrupted: Ctrl-C or SIGTERM drained the requests in flight (a second one stops at once).",
}

# Descriptions of the lines' fields that the code does not carry as a comment.
RECORD_FIELDS = {
    "url": "The URL requested (the browser's form, without its fragment).",
    "final_url": "Where the answer came from; for a redirect (3xx), where it points.",
    "status": "The HTTP status, or null when there was no answer.",
    "error": 'null, or `{"kind", "message"}`: see *Errors and exit codes*.',
    "content_type": "The answer's Content-Type, without parameters.",
    "bytes": "Body bytes (decoded).",
    "sha256": "SHA-256 of the decoded body.",
    "etag": "The answer's ETag: the validators a re-crawl sends back.",
    "last_modified": "The answer's Last-Modified.",
    "depth": "Link hops from a seed (0 for a seed).",
    "parent": "The page the URL was found on (a sitemap for sitemap entries), null for a seed.",
    "fetched_at": "When the visit ended, ISO 8601 UTC with milliseconds.",
    "elapsed_ms": "How long the request took.",
    "path": "Where the body is, relative to OUT (`pages/<host>_<port>/…`); null without a body.",
    "title": "The HTML page's `<title>` (not set for an unchanged page of a re-crawl).",
    "attempts": "Tries spent on the URL, across resumes.",
    "proxy": "The id of the proxy used (`http://host:port`, never credentials), or null.",
    "crawl": "The job's generation: 1, then one more per re-crawl.",
    "change": "Against the URL's last visit: `new`, `changed`, `unchanged` or `gone`.",
    "rendered": "Loaded in the browser (`render:`).",
    "transport": "What fetched it: `aiohttp` or `curl` (null: rendered, or no answer).",
    "http_version": 'The answer\'s HTTP version: `"1.1"`, `"2"`.',
    "items": "Items extracted from the page (jobs with extraction rules or a parse hook).",
    "extract_errors": "Problems the extraction rules met, and `content: …` when the content could not be made.",
    "meta": "The JSON data a hook's follow-request carried (only when set).",
    "priority": "The priority a hook's follow-request carried (only when not 0).",
    "near_duplicate_of": "`content:`: the first URL whose main text is nearly this page's (only when set).",
    "identity": "`identities:`: the number of the identity that fetched it (only then).",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder to write [{OUT.relative_to(ROOT)}]")
    args = parser.parse_args(argv)
    write(args.out)


def write(out: Path) -> list[Path]:
    """Write every reference page into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in pages().items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def pages() -> dict[str, str]:
    return {
        "job-options.md": job_options_page(),
        "cli.md": cli_page(),
        "api.md": api_page(),
        "output.md": output_page(),
        "errors.md": errors_page(),
    }


def header(title: str, source: str) -> list[str]:
    return [
        f"# {title}",
        "",
        f"<!-- Generated by {COMMAND} from {source}. Do not edit: change the code and run it again. -->",
        f"*Generated from {source} by `{COMMAND}`; a test fails when it is out of date.*",
        "",
    ]


def cell(text: str) -> str:
    """Text for a Markdown table cell that GitHub and the site's renderer read alike: one line, and
    no raw pipe (a code span with one becomes ``<code>`` with ``&#124;``, which both render as ``|``)
    and no ``<`` that could be read as a tag."""

    def code(match: re.Match[str]) -> str:
        inner = match.group(1)
        return f"<code>{html.escape(inner).replace('|', '&#124;')}</code>" if "|" in inner else match.group(0)

    parts = re.split(r"(`[^`]+`)", " ".join(text.split()))  # prose, code, prose, …
    text = "".join(code(m) if (m := re.fullmatch(r"`([^`]+)`", p)) else _prose(p) for p in parts)
    return text.replace("|", "\\|")


def _prose(text: str) -> str:
    """``<`` outside code is text (``<job name>``, ``<title>``), not a tag; ``<br>`` stays a line break."""
    return re.sub(r"<(?!br>)", "&lt;", text)


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def doc(obj: Any) -> str:
    """An object's own docstring as Markdown (Sphinx roles and double backticks become code)."""
    text = inspect.getdoc(obj) if obj.__doc__ else ""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text or "")
    return text.replace("``", "`")


def type_text(annotation: str) -> str:
    """A field's annotation as written in the source, without validators (``Annotated[X, …]`` is X)."""
    text = annotation.replace("typing.", "")
    while "Annotated[" in text:
        start = text.index("Annotated[")
        depth, i = 0, start + len("Annotated[")
        first_end = None
        for i in range(start + len("Annotated["), len(text)):
            ch = text[i]
            if ch == "[":
                depth += 1
            elif ch == "]":
                if depth == 0:
                    break
                depth -= 1
            elif ch == "," and depth == 0 and first_end is None:
                first_end = i
        inner = text[start + len("Annotated[") : first_end if first_end is not None else i]
        text = text[:start] + inner + text[i + 1 :]
    return text


def default_text(value: Any) -> str:
    """A default as a reader writes it in YAML."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseModel):
        return "`{" + ", ".join(f"{k}: {default_text(v).strip('`')}" for k, v in value.model_dump().items()) + "}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, dict):
        return "`{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}`"
    text = str(value).replace(crawler.__version__, "<version>")
    return f"`{text}`"


def field_comments(cls: type) -> dict[str, str]:
    """The comments beside a class's fields (``name: type = value  # comment``)."""
    source = textwrap.dedent(inspect.getsource(cls))
    comments: dict[str, str] = {}
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for i, tok in enumerate(tokens):
        if tok.type != tokenize.COMMENT or tok.start[1] == 0:
            continue
        line = source.splitlines()[tok.start[0] - 1]
        match = re.match(r"\s{4}(\w+)\s*:", line)
        if match and not line.lstrip().startswith("#") and i and tokens[i - 1].start[0] == tok.start[0]:
            comments[match.group(1)] = tok.string.lstrip("#").strip()
    return comments


# ----------------------------------------------------------------------------- job options


def flags_by_field() -> dict[str, list[tuple[str, str]]]:
    """Job field → [(flags, help)] from the CLI's option table."""
    flags: dict[str, list[tuple[str, str]]] = {}
    for decls, field, _kind, help_text in options.OPTIONS:
        flags.setdefault(field, []).append((", ".join(decls), help_text))
    return flags


def sections(model: type[BaseModel]) -> list[type[BaseModel]]:
    """The models a model's fields hold (the sections of a job: timeout, login, extract, …), in order."""
    found: list[type[BaseModel]] = []

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.append(tp)
                for f in tp.model_fields.values():
                    walk(f.annotation)
            return
        for arg in typing.get_args(tp):
            walk(arg)

    for f in model.model_fields.values():
        walk(f.annotation)
    return found


def value_types(annotations: list[str]) -> list[tuple[str, str]]:
    """The value types (``crawler.job_values``'s aliases) the annotations name, with what they accept."""
    from crawler import job_values

    names = sorted({n for a in annotations for n in re.findall(r"\b[A-Z]\w+\b", a)})
    out = []
    for name in names:
        alias = getattr(job_values, name, None)
        if alias is None or isinstance(alias, type) or typing.get_origin(alias) is not typing.Annotated:
            continue
        funcs = [getattr(m, "func", None) for m in typing.get_args(alias)[1:]]
        text = next((doc(f) for f in funcs if f is not None and f.__doc__), "")
        if not text:
            raise SystemExit(f"value type {name}: its validator has no docstring (crawler/job_values.py)")
        out.append((name, text))
    return out


def job_options_page() -> str:
    flags = flags_by_field()
    unknown = sorted(set(flags) - set(Job.model_fields))
    missing = sorted(n for n in Job.model_fields if n not in flags and n not in YAML_ONLY)
    extra = sorted(n for n in YAML_ONLY if n in flags or n not in Job.model_fields)
    if unknown or missing or extra:
        raise SystemExit(
            f"docs/gen_reference.py: job keys without a description: {missing}; YAML_ONLY entries that "
            f"are flags or not keys: {extra}; flags of no key: {unknown}"
        )
    lines = header("Job options", "`crawler.config.Job` and `crawler.commands.options.OPTIONS`")
    lines += [
        "One schema serves flags and YAML job files: a YAML key is the flag's long name with `_` for `-`,",
        "plural for repeatable flags. Flags override the file (`headers` and `cookies` merge key by key;",
        "lists are replaced). `crawler check JOB.yaml` validates a file; a bad key or value is refused with",
        "exit code 2 and one line naming it, before anything is written.",
        "",
        "The description of an option with a flag is its `--help` text.",
        "",
    ]
    rows = []
    annotations = Job.__annotations__
    for name, info in Job.model_fields.items():
        given = flags.get(name, [])
        flag_text = (
            "<br>".join(f"`{d}`" for d, _ in given) if given else ("URL arguments" if name == "start_urls" else "")
        )
        if given:
            text = " ".join(h if len(given) == 1 else f"{d.split(', ')[-1]}: {h}" for d, h in given)
        else:
            text = YAML_ONLY[name]
        default = "required" if info.is_required() else default_text(info.get_default(call_default_factory=True))
        rows.append([f"`{name}`", flag_text, f"`{type_text(annotations[name])}`", default, text])
    lines += table(["key", "flag", "type", "default", "description"], rows)

    lines += ["## Sections", ""]
    lines += ["The keys of the options whose value is a mapping (or a list of mappings).", ""]
    nested_annotations: list[str] = list(Job.__annotations__.values())
    for model in sections(Job):
        comments = field_comments(model)
        lines += [f"### {model.__name__}", "", f"*{model.__module__}*", ""]
        if doc(model):
            lines += [doc(model), ""]
        rows = []
        hints = {}
        for klass in reversed(model.__mro__):
            hints.update(getattr(klass, "__annotations__", {}))
        for name, info in model.model_fields.items():
            key = info.alias or name
            default = "required" if info.is_required() else default_text(info.get_default(call_default_factory=True))
            nested_annotations.append(hints[name])
            rows.append([f"`{key}`", f"`{type_text(hints[name])}`", default, comments.get(name, "")])
        lines += table(["key", "type", "default", "description"], rows)

    lines += ["## Value types", "", "What the types named above accept.", ""]
    lines += table(["type", "accepts"], [[f"`{n}`", t] for n, t in value_types(nested_annotations)])
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- CLI


def cli_page() -> str:
    root = cli.main
    job_dests = {options._dest(decls, field, kind) for decls, field, kind, _ in options.OPTIONS}
    lines = header("Command line", "the click commands of `crawler.cli`")
    root_ctx = root.make_context("crawler", [], resilient_parsing=True)
    lines += ["```", "Usage: crawler " + " ".join(root.collect_usage_pieces(root_ctx)), "```", ""]
    lines += [doc_text(root.help), ""]
    lines += options_table(root, root_ctx, set())
    lines += [
        "`python -m crawler` works the same as `crawler`. `crawler COMMAND --help` prints a command's options.",
        "",
    ]
    assert isinstance(root, click.Group)
    for name in sorted(root.commands):
        cmd = root.commands[name]
        ctx = cmd.make_context(name, [], parent=root_ctx, resilient_parsing=True)
        has_job = job_dests <= {p.name for p in cmd.params}
        lines += [f"## crawler {name}", "", "```"]
        lines += ["Usage: crawler " + name + " " + " ".join(cmd.collect_usage_pieces(ctx)), "```", ""]
        lines += [doc_text(cmd.help), ""]
        args = [p for p in cmd.params if isinstance(p, click.Argument)]
        if args:
            rows = [[f"`{a.human_readable_name}`", arg_text(a)] for a in args]
            lines += table(["argument", ""], rows)
        lines += options_table(cmd, ctx, job_dests if has_job else set())
        if has_job:
            lines += [
                f"`crawler {name}` also takes every job option as a flag: see [Job options](job-options.md).",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def doc_text(text: str | None) -> str:
    return " ".join((text or "").split())


def arg_text(arg: click.Argument) -> str:
    parts = []
    if arg.nargs == -1:
        parts.append("one or more" if arg.required else "any number")
    elif not arg.required:
        parts.append("optional")
    if isinstance(arg.default, str | int | float | Path):
        parts.append(f"default `{arg.default}`")
    return ", ".join(parts) or "required"


def options_table(cmd: click.Command, ctx: click.Context, skip: set[str | None]) -> list[str]:
    """The command's own options (those named in ``skip``, the job options, are left out)."""
    rows = []
    for param in cmd.get_params(ctx):
        if not isinstance(param, click.Option) or param.name in skip:
            continue
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append([f"`{record[0]}`", record[1]])
    return table(["option", ""], rows) if rows else []


# ----------------------------------------------------------------------------- Python API


def signature(obj: Callable[..., Any], name: str, *, drop_first: bool = False) -> str:
    """``name(params) -> return`` with annotations as written in the source; one parameter a line
    when it does not fit on one."""
    sig = inspect.signature(obj)
    params = list(sig.parameters.values())[1 if drop_first else 0 :]
    shown, star = [], False
    for p in params:
        if p.kind is p.KEYWORD_ONLY and not star:
            shown.append("*")
            star = True
        star = star or p.kind is p.VAR_POSITIONAL
        text = ("*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else "") + p.name
        if p.annotation is not p.empty:
            text += f": {annotation_text(p.annotation)}"
        if p.default is not p.empty:
            text += (" = " if p.annotation is not p.empty else "=") + repr(p.default)
        shown.append(text)
    ret = "" if sig.return_annotation is sig.empty else f" -> {annotation_text(sig.return_annotation)}"
    one_line = f"{name}({', '.join(shown)}){ret}"
    if len(one_line) <= 90:
        return one_line
    return f"{name}(\n" + "".join(f"    {p},\n" for p in shown) + f"){ret}"


def annotation_text(annotation: Any) -> str:
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


def members(cls: type) -> Iterator[tuple[str, Any]]:
    """A class's own public methods and properties, in source order."""
    for name, value in vars(cls).items():
        if name.startswith("_") or name in getattr(cls, "model_fields", {}):
            continue
        if isinstance(value, property | classmethod | staticmethod) or inspect.isfunction(value):
            yield name, value


def init_attributes(cls: type) -> list[tuple[str, str]]:
    """Public attributes ``__init__`` sets and describes (``self.name = …  # comment``), in order."""
    init = vars(cls).get("__init__")
    if init is None or not inspect.isfunction(init):
        return []
    source = textwrap.dedent(inspect.getsource(init))
    out = []
    for line in source.splitlines():
        m = re.match(r"\s*self\.([a-z]\w*)\s*(?::[^=]+)?=[^=]", line)
        if m and "  # " in line and m.group(1) not in [n for n, _ in out]:
            out.append((m.group(1), line.split("  # ", 1)[1].strip()))
    return out


def api_page() -> str:
    lines = header("Python API", "`crawler.__all__`: signatures, types and docstrings")
    lines += [
        "Everything below is importable from `crawler` (`from crawler import crawl, Job`); the package",
        "ships `py.typed`. Hooks and how a crawl calls them: [Hooks and the Python API](../guides/hooks-api.md).",
        "",
    ]
    names = [n for n in crawler.__all__ if n != "__version__"]
    errors_family = [n for n in names if n in crawler._ERRORS]
    for name in [n for n in names if n not in errors_family]:
        obj = getattr(crawler, name)
        lines += [f"## {name}", "", f"*{obj.__module__}*", ""]
        if inspect.isclass(obj):
            lines += class_doc(obj, name)
        else:
            lines += ["```python", signature(obj, name), "```", "", doc(obj), ""]
    lines += ["## Errors", ""]
    lines += ["Every error the crawler raises to its caller is a `CrawlerError`.", ""]
    rows = []
    for name in errors_family:
        obj = getattr(crawler, name)
        base = ", ".join(b.__name__ for b in obj.__bases__)
        rows.append([f"`{name}`", f"`{base}`", doc(obj)])
    lines += table(["error", "base", ""], rows)
    lines += [f"`crawler.__version__` is the package's version (`{'<version>'}`; `crawler --version` prints it).", ""]
    return "\n".join(lines).rstrip() + "\n"


def class_doc(cls: type, name: str) -> list[str]:
    lines: list[str] = []
    if issubclass(cls, BaseModel):
        lines += ["```python", f"{name}(**options)", "```", "", doc(cls), ""]
        lines += [
            f"Its fields are the job options: see [Job options](job-options.md) ({len(cls.model_fields)} keys).",
            "",
        ]
    elif dataclasses.is_dataclass(cls):
        lines += [doc(cls), "", "A dataclass; its fields:", ""]
        comments = field_comments(cls)
        rows = [
            [f"`{f.name}`", f"`{type_text(str(f.type))}`", comments.get(f.name, "")]
            for f in dataclasses.fields(cls)
            if not f.name.startswith("_")
        ]
        lines += table(["field", "type", ""], rows)
    else:
        lines += ["```python", signature(cls, name), "```", "", doc(cls), ""]
        attributes = init_attributes(cls)
        if attributes:
            lines += table(["attribute", ""], [[f"`{n}`", c] for n, c in attributes])
    for member, value in members(cls):
        if isinstance(value, property):
            ann = annotation_text(inspect.signature(value.fget).return_annotation) if value.fget else ""
            lines += [f"### {name}.{member}", "", f"Property: `{ann}`." if ann else "Property.", ""]
            lines += [doc(value.fget), ""] if value.fget and value.fget.__doc__ else []
            continue
        func = value.__func__ if isinstance(value, classmethod | staticmethod) else value
        prefix = "async " if inspect.iscoroutinefunction(func) else ""
        shown = signature(func, f"{name}.{member}", drop_first=not isinstance(value, staticmethod))
        lines += [f"### {name}.{member}", "", "```python", prefix + shown, "```", ""]
        lines += [doc(func), ""] if func.__doc__ else []
    return lines


# ----------------------------------------------------------------------------- output formats


def record_keys() -> list[str]:
    full = Record(
        url="u", depth=0, parent=None, attempts=1, meta={"k": 1}, priority=1, near_duplicate_of="u", identity=1
    )
    return list(full.as_json(with_items=True))


def content_keys() -> tuple[list[str], list[str]]:
    content = PageContent(markdown="m", text="t", simhash=1, chunks=[Chunk(0, ("h",), "t", 1)])
    return list(content.line("u", None, 1)), list(content.chunk_lines("u", 1)[0])


def stats_keys() -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        log = StatsLog(Path(tmp))
        log.tick(Stats(), 0, 0, [], final=True)
        import json

        return list(json.loads((Path(tmp) / "stats.jsonl").read_text()))


def output_page() -> str:
    lines = header(
        "Output formats", "`Record.as_json`, `PageContent`, `StatsLog`, `crawler.recrawl` and the state file's version"
    )
    lines += [
        "What a crawl writes into its output folder (`OUT`, `output/<job name>` unless `-o` says otherwise).",
        "A walk through a real crawl's output: [Reading the output](../getting-started/output.md).",
        "",
        "## Versions and the upgrade promise",
        "",
        f"- `crawler --version` names them: release {__version__}, state format {STATE_VERSION}, record"
        f" format {RECORD_FORMAT}.",
        f"- The state file `OUT/state.sqlite` is format **{STATE_VERSION}** (`PRAGMA user_version`). A state file",
        "  written by an earlier version is upgraded in place when the crawl resumes; one written by a later",
        "  version is refused with one line (`run with --fresh to start over`).",
        f"- The records (`records.jsonl`) are format **{RECORD_FORMAT}**: within a format, fields are only added,",
        "  never removed, renamed or given another type or meaning (a reader ignores fields it does not",
        "  know); a change that breaks this raises the format.",
        "- The package is 0.x: a minor release may change the Python API; job files and command lines keep",
        "  working unless the changelog marks a change **Breaking**. `CHANGELOG.md` lists every change",
        "  and states these promises at its top.",
        "",
    ]
    comments = field_comments(Record)
    rows = [[f"`{k}`", RECORD_FIELDS.get(k) or comments.get(k, "")] for k in record_keys()]
    missing = [r[0] for r in rows if not r[1]]
    if missing:
        raise SystemExit(f"docs/gen_reference.py: describe the record fields {missing} in RECORD_FIELDS")
    lines += [
        "## records.jsonl",
        "",
        "One line per URL that entered the crawl, success or failure (per crawl, after re-crawls), with",
        "these keys in this order. `items` and `extract_errors` are there for jobs that extract;",
        "`extract_errors` also for a page whose content could not be made; `meta`, `priority`,",
        "`near_duplicate_of` and `identity` only when set. `crawler merge` adds `worker` (the shard",
        "the kept record came from) and makes `path` relative to OUT.",
        "",
    ]
    lines += table(["key", ""], rows)
    content, chunk = content_keys()
    lines += [
        "## items.jsonl and items.csv",
        "",
        "`items.jsonl`: one JSON object per item, its fields plus `url` (the page's, unless the item",
        "carries its own) and `rule` (the extraction rule's name). `--format csv` writes `items.csv`",
        "instead: columns `url`, `rule` and every field the rules name; lists and objects JSON-encoded.",
        "",
        "## content.jsonl",
        "",
        "With `content:`: one line per HTML page, keys in this order (`markdown` and `text` as the job",
        "asks; `simhash` and `near_duplicate_of` unless `near_duplicates: off`):",
        "",
        ", ".join(f"`{k}`" for k in content) + ".",
        "",
        "## chunks.jsonl",
        "",
        "With `chunks:`: one line per chunk of a page's Markdown:",
        "",
        ", ".join(f"`{k}`" for k in chunk) + ".",
        "",
        "## changes.jsonl",
        "",
        "After a re-crawl: the URLs of the latest crawl whose `change` is not `unchanged`, with",
        ", ".join(f"`{k}`" for k in _CHANGE_FIELDS) + ".",
        "",
        "## stats.jsonl",
        "",
        "A line every few seconds and one at the end (`final: true`), appended across runs (`run` is",
        "the run's start, epoch seconds), with the top-level keys:",
        "",
        ", ".join(f"`{k}`" for k in stats_keys()) + ".",
        "",
        "`interval` holds the change since the previous line; `hosts` the busiest hosts (`urls`, `pages`,",
        "`errors`, `bytes`, `throttles`, `blocked`); `proxies` each proxy's `requests`, `failures`, `bans`,",
        "`blocked`, `bytes`; `dns` is there when names are looked up. `identities` holds the identities",
        "this process `made` and `retired` (by why: `max_uses`, `banned`, `blocked`, `proxy`), `logins`",
        "the logins that worked (`ok`, re-logins after a session expired among them: `relogins`) and",
        "`failed`; zeros when the job has none.",
        "",
        "## Files",
        "",
    ]
    lines += table(
        ["path", ""],
        [
            ["`records.jsonl`", "one record per URL (above)"],
            ["`pages/<host>_<port>/…`", "2xx bodies exactly as received (decoded), via temp file and atomic rename"],
            [
                "`state.sqlite`",
                f"the frontier, format {STATE_VERSION} (above): the resume point and last visits; the crawl's "
                "cookies (and its identities') for a resume: sessions, so keep the folder private",
            ],
            ["`changes.jsonl`", "after a re-crawl"],
            ["`stats.jsonl`", "the crawl's numbers over time"],
            ["`report.html`", "`crawler report OUT`"],
            ["`items.jsonl`, `items.csv`", "extracted items"],
            ["`content.jsonl`, `chunks.jsonl`, `simhash.jsonl`", "with `content:`"],
            ["`crawl.warc.gz`", "with `--warc`: WARC 1.1, gzipped per record"],
            ["`screens/`", "with `--render-screenshot`: the page's path plus `.png`"],
            ["`shards/<worker id>/`", "a shared job: each worker's records, items, pages and WARC"],
        ],
    )
    lines += ["Page paths, step by step: [Architecture: page paths](../architecture.md#page-paths).", ""]
    return "\n".join(lines).rstrip() + "\n"


# ----------------------------------------------------------------------------- errors


def exit_codes_in_code() -> set[int]:
    """The literal exit codes the CLI and its commands give (``sys.exit(N)``, ``return N``)."""
    codes = set()
    files = [ROOT / "crawler" / "cli.py", *sorted((ROOT / "crawler" / "commands").glob("*.py"))]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            value = None
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("exit", "_exit") and node.args:
                value = node.args[0]
            elif isinstance(node, ast.Return):
                value = node.value
            elif isinstance(node, ast.IfExp):
                for v in (node.body, node.orelse):
                    if isinstance(v, ast.Constant) and type(v.value) is int:
                        codes.add(v.value)
            if isinstance(value, ast.Constant) and type(value.value) is int:
                codes.add(value.value)
    return codes


def errors_page() -> str:
    kinds = [k.value for k in errors.Kind]
    if set(kinds) != set(KINDS):
        raise SystemExit(
            f"docs/gen_reference.py KINDS: describe {sorted(set(kinds) - set(KINDS))}, "
            f"drop {sorted(set(KINDS) - set(kinds))}"
        )
    found = exit_codes_in_code()
    if found != set(EXIT_CODES):
        raise SystemExit(
            f"docs/gen_reference.py EXIT_CODES {sorted(EXIT_CODES)} != the codes in the code {sorted(found)}"
        )
    lines = header("Errors and exit codes", "`crawler.core.errors` and the exit codes of `crawler.cli`")
    lines += [
        "## Error kinds",
        "",
        'A record\'s `error` is `null` or `{"kind": …, "message": …}`; the kinds, in the order of',
        "`crawler.core.errors.Kind`. What to do about each: [Troubleshooting](../troubleshooting.md).",
        "",
    ]
    lines += table(["kind", ""], [[f"[`{k}`](../troubleshooting.md#{k})", KINDS[k]] for k in kinds])
    lines += ["## Exit codes", ""]
    lines += table(["code", ""], [[str(c), t] for c, t in sorted(EXIT_CODES.items())])
    lines += ["## Exceptions", "", "Raised to a Python caller; the CLI turns them into one `error:` line.", ""]
    rows = []
    for name, obj in vars(errors).items():
        if inspect.isclass(obj) and issubclass(obj, errors.CrawlerError) and obj.__module__ == errors.__name__:
            public = "yes" if name in crawler.__all__ else ""
            rows.append([f"`{name}`", f"`{obj.__bases__[0].__name__}`", public, doc(obj)])
    lines += table(["exception", "base", "in `crawler`", ""], rows)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    main(sys.argv[1:])
