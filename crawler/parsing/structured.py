"""Structured data inside a page: JSON-LD blocks, microdata, and paths into JSON values.

Shops often put their clean data here (schema.org ``Product``, ``Offer``), so an extraction field
may read ``jsonld: Product.offers.price`` or ``microdata: Product.offers.price``: the first part
names a ``@type`` (found at any depth, ``*`` for any object), the rest is a path of keys. Lists
met on the way are walked element by element, so a path may give several values.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode

_URL_PROPS = {
    "a": "href",
    "area": "href",
    "link": "href",
    "img": "src",
    "audio": "src",
    "video": "src",
    "source": "src",
    "embed": "src",
    "iframe": "src",
    "track": "src",
    "object": "data",
}


def jsonld(tree: LexborHTMLParser) -> tuple[list[Any], int]:
    """The page's JSON-LD values, and how many blocks were not valid JSON."""
    values: list[Any] = []
    bad = 0
    for node in tree.css('script[type="application/ld+json"]'):
        try:
            values.append(orjson.loads(node.text(deep=True)))
        except orjson.JSONDecodeError:
            bad += 1
    return values, bad


def microdata(tree: LexborHTMLParser) -> list[dict[str, Any]]:
    """The page's top-level microdata items as JSON-LD-like objects (``@type`` and properties)."""
    return [_item(node) for node in tree.css("[itemscope]") if "itemprop" not in node.attributes]


def by_type(values: list[Any], path: str) -> list[Any]:
    """Values at ``path`` (``Type.key.key``) in objects of that ``@type`` anywhere in ``values``."""
    kind, _, rest = path.partition(".")
    found: list[Any] = []
    for obj in _objects(values):
        if kind == "*" or _has_type(obj, kind):
            found += walk(obj, rest)
    return found


def walk(value: Any, path: str) -> list[Any]:
    """Values at a dotted ``path`` of keys or list indexes in a JSON value. A key met on a list
    applies to each element, and a list at the end gives its elements. An empty path is the value."""
    current = [value]
    for key in path.split(".") if path else []:
        step: list[Any] = []
        for v in current:
            if isinstance(v, list) and key.isdigit():
                step += v[int(key) : int(key) + 1]
                continue
            for item in v if isinstance(v, list) else [v]:
                if isinstance(item, dict) and key in item:
                    step.append(item[key])
        current = step
    flat = [x for v in current for x in (v if isinstance(v, list) else [v])]
    return [v for v in flat if v is not None]


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """Every object inside ``value``, outer ones first (``@graph`` members included)."""
    stack = deque([value])
    while stack:
        v = stack.popleft()
        if isinstance(v, dict):
            yield v
            stack += v.values()
        elif isinstance(v, list):
            stack += v


def _has_type(obj: dict[str, Any], kind: str) -> bool:
    types = obj.get("@type")
    for t in types if isinstance(types, list) else [types]:
        if isinstance(t, str) and (t == kind or t.rsplit("/", 1)[-1] == kind):
            return True
    return False


def _item(scope: LexborNode) -> dict[str, Any]:
    """One microdata item: its properties are the ``itemprop`` nodes whose nearest enclosing
    ``itemscope`` is this one."""
    item: dict[str, Any] = {}
    kind = scope.attributes.get("itemtype")
    if kind:
        item["@type"] = kind.split()[0].rstrip("/").rsplit("/", 1)[-1]
    for node in scope.css("[itemprop]"):
        if _scope_of(node) != scope.mem_id:
            continue
        value = _item(node) if "itemscope" in node.attributes else _prop_value(node)
        for name in (node.attributes.get("itemprop") or "").split():
            if name in item:
                previous = item[name]
                item[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
            else:
                item[name] = value
    return item


def _scope_of(node: LexborNode) -> int | None:
    parent = node.parent
    while parent is not None and "itemscope" not in parent.attributes:
        parent = parent.parent
    return parent.mem_id if parent is not None else None


def _prop_value(node: LexborNode) -> str:
    attrs = node.attributes
    if "content" in attrs:
        return attrs["content"] or ""
    attr = _URL_PROPS.get(node.tag or "") or {"time": "datetime", "data": "value", "meter": "value"}.get(node.tag or "")
    if attr and attrs.get(attr) is not None:
        return attrs[attr] or ""
    return " ".join(node.text().split())
