"""Extraction rules from the job (``extract:``): CSS fields → items, with types and defaults.

A rule applies to pages whose URL matches it. Without ``items`` a page gives one item; with it,
every node the ``items`` selector matches gives one (product cards, table rows), and field selectors
are relative to that node. A missing ``required`` field drops the item and is reported on the
page's record (``extract_errors``); an optional one takes its ``default``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from crawler.errors import InvalidURL
from crawler.parsing.rules import ExtractRule, FieldRule
from crawler.urls import join

_TRUE = {"true", "yes", "1", "on", "y"}
_FALSE = {"false", "no", "0", "off", "n", ""}


class Missing(Exception):
    """A field has no usable value; the message says why."""


class Extractor:
    """Applies the job's extraction rules to parsed pages."""

    def __init__(self, rules: list[ExtractRule]) -> None:
        self._rules = [(rule, _matcher(rule.match)) for rule in rules]
        self._regex = {id(f): re.compile(f.regex) for rule in rules for f in rule.fields.values() if f.regex}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def extract(self, tree: LexborHTMLParser, url: URL) -> tuple[list[dict[str, Any]], list[str]]:
        """Items of the rules that match ``url``, and the problems that dropped items."""
        items: list[dict[str, Any]] = []
        errors: list[str] = []
        text = str(url)
        for rule, matches in self._rules:
            if not matches(text):
                continue
            roots: list[LexborHTMLParser | LexborNode] = list(tree.css(rule.items)) if rule.items else [tree]
            for n, root in enumerate(roots):
                item: dict[str, Any] = {"url": text, "rule": rule.name}
                try:
                    for name, field in rule.fields.items():
                        item[name] = self._field(root, field, url, name)
                except Missing as e:
                    where = f"{rule.name}[{n}]" if rule.items else rule.name
                    errors.append(f"{where}: {e}")
                    continue
                items.append(item)
        return items, errors

    def _field(self, root: LexborHTMLParser | LexborNode, field: FieldRule, url: URL, name: str) -> Any:
        try:
            nodes = root.css(field.css) if field.all else [n for n in [root.css_first(field.css)] if n]
            if not nodes:
                raise Missing(f"{name}: nothing matches {field.css!r}")
            values = [self._value(node, field, url, name) for node in nodes]
            return values if field.all else values[0]
        except Missing:
            if field.required:
                raise
            return field.default

    def _value(self, node: LexborNode, field: FieldRule, url: URL, name: str) -> Any:
        if field.attr:
            raw = node.attributes.get(field.attr)
            if raw is None:
                raise Missing(f"{name}: no {field.attr!r} attribute")
        elif field.html:
            raw = node.inner_html or ""
        else:
            raw = " ".join(node.text().split())
        rx = self._regex.get(id(field))
        if rx is not None:
            m = rx.search(raw)
            if m is None:
                raise Missing(f"{name}: {raw[:60]!r} does not match {field.regex!r}")
            raw = m.group(1) if m.groups() else m.group(0)
        return _convert(raw.strip(), field.type, url, name)


def _convert(raw: str, kind: str, url: URL, name: str) -> Any:
    try:
        if kind == "int":
            return int(raw.replace(",", "").replace("_", ""))
        if kind == "float":
            return float(raw.replace(",", ""))
        if kind == "bool":
            low = raw.lower()
            if low not in _TRUE | _FALSE:
                raise ValueError(raw)
            return low in _TRUE
        if kind == "url":
            return str(join(url, raw))
    except (ValueError, InvalidURL):
        raise Missing(f"{name}: {raw[:60]!r} is not a valid {kind}") from None
    return raw


def _matcher(pattern: str) -> Callable[[str], object]:
    """A URL glob (``*/product/*``) or, after ``re:``, a regex searched in the URL."""
    if pattern.startswith("re:"):
        return re.compile(pattern[3:]).search
    return re.compile(fnmatch.translate(pattern)).fullmatch
