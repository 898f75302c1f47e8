"""Extraction rules from the job (``extract:``): fields → items.

A rule applies to pages whose URL matches it. Without ``items`` a page gives one item; with it,
every node the ``items`` selector matches gives one (product cards, table rows), and field selectors
are relative to that node. Each field runs its steps in a fixed order (select, take, text steps,
choose, map, type: see :class:`~crawler.parsing.rules.FieldRule`).

No silent wrong values: ``default`` stands in only when nothing matched. A value that cannot be
converted is listed in the page's ``extract_errors`` and left null (or, with ``default_on_error``,
defaulted); a ``required`` field without a value drops its item, and that is listed too.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from selectolax.lexbor import LexborHTMLParser, LexborNode
from yarl import URL

from crawler.core.urls import url_pattern
from crawler.parsing import structured
from crawler.parsing.rules import ExtractRule, FieldRule
from crawler.parsing.values import Mapper, Unconvertible, convert, shown

Root = LexborHTMLParser | LexborNode


DROPPED = "(required: item dropped)"  # ends the problem of an item a required field is missing from


class Missing(Exception):
    """A required field has no value: its item is dropped; the message says why."""


class _Page:
    """One page being extracted: its tree, URL, and the structured data read on first use."""

    def __init__(self, tree: LexborHTMLParser, url: URL, trace: list[str] | None) -> None:
        self.tree = tree
        self.url = url
        self.errors: list[str] = []
        self.trace = trace
        self._jsonld: tuple[list[Any], int] | None = None
        self._microdata: list[Any] | None = None

    def jsonld(self, path: str) -> tuple[list[Any], str]:
        if self._jsonld is None:
            self._jsonld = structured.jsonld(self.tree)
        values, bad = self._jsonld
        note = f" ({bad} JSON-LD block{'s' if bad > 1 else ''} not valid JSON)" if bad else ""
        return structured.by_type(values, path), f"no JSON-LD {path}{note}"

    def note(self, where: str, raws: list[Any], outcome: str) -> None:
        """For ``crawler check``: what a field matched and what came of it."""
        if self.trace is not None:
            shown_raws = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in raws[:5]]
            more = f" (+{len(raws) - 5})" if len(raws) > 5 else ""
            self.trace.append(f"{where}: {shown_raws!r}{more} → {outcome}")

    def microdata(self, path: str) -> tuple[list[Any], str]:
        if self._microdata is None:
            self._microdata = structured.microdata(self.tree)
        return structured.by_type(self._microdata, path), f"no microdata {path}"


class Extractor:
    """Applies the job's extraction rules to parsed pages."""

    def __init__(self, rules: list[ExtractRule]) -> None:
        self._rules = [(rule, url_pattern(rule.match)) for rule in rules]
        self._mappers: dict[int, Mapper] = {}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def extract(
        self, tree: LexborHTMLParser, url: URL, trace: list[str] | None = None
    ) -> tuple[list[dict[str, Any]], list[str]]:
        """Items of the rules that match ``url``, and the problems met (``trace`` collects each
        field's raw match and value, for ``crawler check``)."""
        page = _Page(tree, url, trace)
        items: list[dict[str, Any]] = []
        text = str(url)
        for rule, matches in self._rules:
            if not matches(text):
                continue
            roots: list[Root] = list(tree.css(rule.items)) if rule.items else [tree]
            for n, root in enumerate(roots):
                where = f"{rule.name}[{n}]" if rule.items else rule.name
                try:
                    fields = self._fields(page, root, rule.fields, where)
                except Missing as e:
                    page.errors.append(f"{e} {DROPPED}")
                    continue
                items.append({"url": text, "rule": rule.name, **fields})
        return items, page.errors

    def _fields(self, page: _Page, root: Root, fields: dict[str, FieldRule], where: str) -> dict[str, Any]:
        """Every field's value; Missing (the first) if a required one has none. All fields are
        read even then, so ``crawler check`` shows each one."""
        values: dict[str, Any] = {}
        missing: Missing | None = None
        for name, field in fields.items():
            try:
                values[name] = self._field(page, root, field, f"{where}.{name}")
            except Missing as e:
                missing = missing or e
        if missing is not None:
            raise missing
        return values

    def _field(self, page: _Page, root: Root, field: FieldRule, where: str) -> Any:
        """The field's value; Missing when it is required and has none."""
        if field.fields is not None:
            return self._nested(page, root, field, where)
        raws, nothing = self._select(page, root, field)
        if not raws and not field.count:
            page.note(
                where,
                raws,
                f"{nothing}: "
                + ("required, item dropped" if field.required else f"default {orjson.dumps(field.default).decode()}"),
            )
            if field.required:
                raise Missing(f"{where}: {nothing}")
            return field.default
        try:
            value = self._convert(page, field, len(raws)) if field.count else self._value(page, field, raws)
        except Unconvertible as e:
            page.note(where, raws, f"error: {e}")
            if field.required:
                raise Missing(f"{where}: {e}") from None
            if field.default_on_error:
                return field.default
            page.errors.append(f"{where}: {e}")
            return None
        page.note(where, raws, orjson.dumps(value).decode())
        return value

    def _nested(self, page: _Page, root: Root, field: FieldRule, where: str) -> Any:
        """An object from the first ``css`` match (or the node itself), or with ``items`` a list of
        objects, one per match; an object missing a required field is left out and listed."""
        assert field.fields is not None
        if field.items is None:
            node = root.css_first(field.css) if field.css else root
            if node is None:
                if field.required:
                    raise Missing(f"{where}: nothing matches {field.css!r}")
                return field.default
            return self._fields(page, node, field.fields, where)
        objects = []
        for n, node in enumerate(root.css(field.items)):
            try:
                objects.append(self._fields(page, node, field.fields, f"{where}[{n}]"))
            except Missing as e:
                page.errors.append(f"{e} (required: object left out)")
        if not objects and field.required:
            raise Missing(f"{where}: no object in {field.items!r}")
        return objects

    def _select(self, page: _Page, root: Root, field: FieldRule) -> tuple[list[Any], str]:
        """The raw values (text, or JSON values) and, for when there are none, what was looked for."""
        if field.jsonld is not None:
            return page.jsonld(field.jsonld)
        if field.microdata is not None:
            return page.microdata(field.microdata)
        assert field.css is not None
        single = not (
            field.all
            or field.last
            or field.count
            or field.join is not None
            or field.slice
            or field.split is not None
            or field.json_path is not None
        )
        nodes = [n for n in [root.css_first(field.css)] if n] if single and not field.attr else root.css(field.css)
        if field.attr:
            values: list[Any] = [v for n in nodes if (v := n.attributes.get(field.attr)) is not None]
            what = f"nothing matches {field.css!r} with a {field.attr!r} attribute"
        else:
            values = [n.inner_html or "" if field.html else " ".join(n.text().split()) for n in nodes]
            what = f"nothing matches {field.css!r}"
        return (values[:1] if single else values), what

    def _value(self, page: _Page, field: FieldRule, raws: list[Any]) -> Any:
        """The text steps, the choice among values, then map and type."""
        values: list[Any] = []
        for raw in raws:
            if field.json_path is not None:
                values += self._json(raw, field.json_path)
            else:
                values += self._text_steps(field, raw) if isinstance(raw, str) else [raw]
        if field.slice is not None:
            values = values[slice(*field.slice)]
        if field.join is not None:
            return self._convert(page, field, field.join.join(str(v) for v in values))
        if field.all:
            return [self._convert(page, field, v) for v in values]
        if not values:
            raise Unconvertible(f"no value left of {shown(raws[0])} after split/slice")
        return self._convert(page, field, values[-1] if field.last else values[0])

    def _text_steps(self, field: FieldRule, raw: str) -> list[str]:
        if field.regex is not None:
            m = re.search(field.regex, raw)  # re caches compiled patterns
            if m is None:
                raise Unconvertible(f"{shown(raw)} does not match regex {field.regex!r}")
            raw = m.group(1) if m.groups() else m.group(0)
        if field.strip:
            raw = raw.strip() if field.strip is True else raw.strip(str(field.strip))
        for old, new in field.replace.items():
            raw = re.sub(old[3:], new, raw) if old.startswith("re:") else raw.replace(old, new)
        if field.split is None:
            return [raw]
        return [part.strip() for part in raw.split(field.split) if part.strip()]

    @staticmethod
    def _json(raw: Any, path: str) -> list[Any]:
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise Unconvertible(f"{shown(raw)} is not JSON ({e})") from None
        found = structured.walk(data, path)
        if not found:
            raise Unconvertible(f"the JSON has no {path!r}")
        return found

    def _convert(self, page: _Page, field: FieldRule, value: Any) -> Any:
        """Map, then type (a count is an int: it is typed only after a map)."""
        if field.count and field.map is None:
            return value
        if field.map is not None:
            value = self._mapper(field)(value)
            if not isinstance(value, str) or field.type == "str":
                return value
        return convert(value, field.type, base=page.url, decimal=field.decimal, fmt=field.format)

    def _mapper(self, field: FieldRule) -> Mapper:
        mapper = self._mappers.get(id(field))  # the rules live as long as the extractor
        if mapper is None:
            mapper = self._mappers[id(field)] = Mapper(field.map or {})
        return mapper
