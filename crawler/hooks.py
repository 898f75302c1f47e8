"""User code hooks: ``parse`` (in the parser), ``request`` (before each fetch), ``on_record``,
``on_item`` and ``on_content`` (in the engine), ``login`` (``login.hook``: an identity logs in).

A hook is given as a Python object (the API) or as a dotted path ``package.module:function``
(YAML ``parse:``, ``--parse``), imported at start: a path that does not import is refused with one
line. Paths resolve against the job file's directory and the current directory, then ``sys.path``.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from crawler.core.errors import ConfigError
from crawler.core.outgoing import Outgoing, breaks_header
from crawler.core.record import Record

if TYPE_CHECKING:
    from crawler.parsing.page import Page


ParseHook: TypeAlias = "Callable[[Page], Iterable[Any] | None]"  # items and Follow requests
RequestHook = Callable[[Outgoing], Any]  # changes the Outgoing (or returns one); may be async
RecordHook = Callable[[Record], Any]  # may return an awaitable
ItemHook = Callable[[dict[str, Any]], Any]  # may return an awaitable
ContentHook = Callable[[dict[str, Any]], Any]  # a content.jsonl line; may return an awaitable
LoginHook = Callable[[Any], Awaitable[Any]]  # async; gets a crawler.net.login.LoginSession


@dataclass(frozen=True, slots=True)
class Hooks:
    """The hooks of one crawl; any may be None."""

    parse: ParseHook | None = None
    request: RequestHook | None = None
    on_record: RecordHook | None = None
    on_item: ItemHook | None = None
    on_content: ContentHook | None = None
    login: LoginHook | None = None

    @classmethod
    def from_paths(cls, paths: Mapping[str, str | None], base: Path | None = None) -> Hooks:
        """Import the dotted paths of a job (``{"parse": "shop:parse", ...}``)."""
        return cls(**{name: load(path, name, base) for name, path in paths.items() if path})


def load(path: str, what: str, base: Path | None = None) -> Callable[..., Any]:
    """The callable at ``module:attribute``, or a ConfigError naming what is wrong."""
    module_name, colon, attr = path.partition(":")
    if not colon or not module_name or not attr:
        raise ConfigError(f"{what}: {path!r} is not a dotted path 'package.module:function'")
    for folder in (base, Path.cwd()):
        if folder is not None and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except Exception as e:  # any error while importing user code: one line, not a traceback
        raise ConfigError(f"{what}: cannot import {module_name!r} ({type(e).__name__}: {e})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ConfigError(f"{what}: {module_name!r} has no {attr!r}")
    if not callable(target):
        raise ConfigError(f"{what}: {path!r} is not callable")
    return target  # type: ignore[no-any-return]


def hook_name(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', repr(fn))}"


def failure(fn: Callable[..., Any], error: Exception) -> str:
    """What a record or warning says of a hook that raised: which hook, which exception."""
    return f"{hook_name(fn)}: {type(error).__name__}: {error}"[:1000]


def as_item(value: Any) -> dict[str, Any]:
    """A yielded item as a JSON-ready dict: dicts, dataclasses, pydantic models, msgspec structs."""
    if isinstance(value, Mapping):
        return dict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):  # pydantic v2
        return dict(value.model_dump(mode="json"))
    fields = getattr(type(value), "__struct_fields__", None)  # msgspec.Struct (no import needed)
    if fields is not None:
        return {name: getattr(value, name) for name in fields}
    raise TypeError(
        f"cannot write a {type(value).__name__} as an item (yield a dict, dataclass, pydantic model or msgspec struct)"
    )


class HookFailed(Exception):
    """A hook raised or returned something unusable; the text names the hook and the problem."""


async def prepare(hook: RequestHook, outgoing: Outgoing, choose_proxy: Callable[[str], object]) -> Outgoing:
    """Run the ``request`` hook on ``outgoing``; HookFailed if it raises, writes a header or cookie
    that would split the request (CR, LF, NUL), or sets a proxy ``choose_proxy`` refuses."""
    try:
        result = await call(hook, outgoing)
    except Exception as e:  # user code: this request's error, the crawl goes on
        raise HookFailed(failure(hook, e)) from None
    outgoing = result if isinstance(result, Outgoing) else outgoing
    for key, value in [*outgoing.headers.items(), *outgoing.cookies.items()]:
        if breaks_header(key) or breaks_header(value):
            raise HookFailed(f"{hook_name(hook)}: header or cookie {key!r} contains CR, LF or NUL")
    if outgoing.proxy is not None:
        try:
            choose_proxy(outgoing.proxy)
        except ValueError as e:
            raise HookFailed(f"{hook_name(hook)}: proxy {e}") from None
    return outgoing


async def call(fn: Callable[[Any], Any], value: Any) -> Any:
    """Call a hook, awaiting it when it is async; its result."""
    result = fn(value)
    if inspect.isawaitable(result):
        result = await result
    return result
