"""Schema of the job's extraction and follow rules (``extract:``, ``follow:``), validated at load
time: a bad CSS selector or regex is a config error naming the field, not a failure on every page."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from selectolax.lexbor import LexborHTMLParser


class Strict(BaseModel):
    """Base of every job model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)  # inf would hang a wait


def checked_css(selector: str | None) -> str | None:
    """A CSS selector selectolax accepts (tried once on an empty document)."""
    if selector is not None:
        try:
            LexborHTMLParser("<p></p>").css(selector)
        except Exception:
            raise ValueError(f"bad CSS selector {selector!r}") from None
    return selector


def checked_pattern(pattern: str | None, *, glob_ok: bool) -> str | None:
    """A regex (or, where globs are allowed, ``re:``-prefixed regex) that compiles."""
    if pattern is not None and (not glob_ok or pattern.startswith("re:")):
        try:
            re.compile(pattern[3:] if glob_ok else pattern)
        except re.error as e:
            raise ValueError(f"bad regex {pattern!r}: {e}") from None
    return pattern


class FieldRule(Strict):
    """One extracted value: where it comes from, what to take, and how to turn it into the value
    (the steps run in the order of the attributes below; see docs/guides/extraction.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    # where: a CSS selector (relative to the item's node), or page-wide structured data
    css: str | None = None
    jsonld: str | None = None  # "Type.key.key" in the page's JSON-LD
    microdata: str | None = None  # "Type.key.key" in the page's microdata
    json_path: str | None = Field(None, alias="json")  # the matched node's text is JSON: this path ("" = all)
    # what to take from each match
    attr: str | None = None  # this attribute instead of the text (nodes without it do not match)
    html: bool = False  # the inner HTML instead of the text
    count: bool = False  # the number of matches, instead of their values
    # text steps, on each value
    regex: str | None = None  # keep the first group (or the whole match); no match is an error
    strip: bool | str = False  # strip whitespace (true) or these characters
    replace: dict[str, str] = {}  # old → new, in order; "re:" keys are regexes
    split: str | None = None  # one value becomes several
    # choosing among the values
    slice: tuple[int | None, int | None] | None = None  # [start, stop] of the list, Python style
    all: bool = False  # the list of every value
    first: bool = False  # the first value (the default without all/last)
    last: bool = False  # the last value
    join: str | None = None  # the values joined into one text
    # converting each value
    map: dict[str, Any] | None = None  # exact text or "re:" regex → value; "*" for the rest
    type: Literal["str", "int", "float", "bool", "url", "date"] = "str"
    decimal: Literal[".", ","] = "."  # int/float: the decimal mark (the other one groups thousands)
    format: str | None = None  # date: a strptime format (else ISO 8601)
    # when there is no value
    default: Any = None  # when nothing matched
    default_on_error: bool = False  # also when a value could not be converted (else: null and an error)
    required: bool = False  # no value (nothing matched, or an error): the item is dropped
    # a nested object (with css: from the first match) or, with items:, a list of objects
    items: str | None = None
    fields: dict[str, FieldRule] | None = None

    @field_validator("css", "items")
    @classmethod
    def _check_css(cls, v: str | None) -> str | None:
        return checked_css(v)

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, v: str | None) -> str | None:
        return checked_pattern(v, glob_ok=False)

    @field_validator("replace", "map")
    @classmethod
    def _check_keys(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in v or {}:
            checked_pattern(key, glob_ok=True)
        return v

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        return _shorthand(fields)

    @model_validator(mode="after")
    def _consistent(self) -> FieldRule:
        sources = [k for k in ("css", "jsonld", "microdata") if getattr(self, k) is not None]
        if self.fields is not None:
            if self.jsonld or self.microdata:
                raise ValueError("a nested object (fields:) is read from css: or items:, not jsonld:/microdata:")
            return self
        if self.items is not None:
            raise ValueError("items: needs fields: (the fields of each object)")
        if len(sources) != 1:
            raise ValueError(
                "give exactly one of css:, jsonld:, microdata:" + (f" (got {', '.join(sources)})" if sources else "")
            )
        if sum([self.all, self.first, self.last]) > 1:
            raise ValueError("all:, first: and last: exclude each other")
        if self.css is None and (self.attr or self.html or self.count or self.json_path is not None):
            raise ValueError("attr:, html:, count: and json: read nodes: they need css:")
        if self.format is not None and self.type != "date":
            raise ValueError("format: is for type: date")
        return self


class ExtractRule(Strict):
    """Items to extract from pages whose URL matches ``match`` (a glob, or a regex after ``re:``);
    with ``items``, one item per node that selector matches, else one item per page."""

    name: str
    match: str = "*"
    items: str | None = None
    fields: dict[str, FieldRule]

    @field_validator("items")
    @classmethod
    def _check_items(cls, v: str | None) -> str | None:
        return checked_css(v)

    @field_validator("match")
    @classmethod
    def _check_match(cls, v: str) -> str:
        return checked_pattern(v, glob_ok=True) or v

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        return _shorthand(fields)


def _shorthand(fields: Any) -> Any:
    """``price: .price`` means ``price: {css: .price}``."""
    if isinstance(fields, dict):
        return {k: {"css": v} if isinstance(v, str) else v for k, v in fields.items()}
    return fields


class FollowRule(Strict):
    """Follow links found inside ``css`` regions (all of the page if omitted) whose URL matches
    ``match`` (a regex searched in the URL, ``re:`` prefix optional; any if omitted). With follow
    rules, a link must satisfy one of them."""

    css: str | None = None
    match: str | None = None

    @field_validator("css")
    @classmethod
    def _check_css(cls, v: str | None) -> str | None:
        return checked_css(v)

    @field_validator("match")
    @classmethod
    def _check_match(cls, v: str | None) -> str | None:
        return checked_pattern(v[3:] if v is not None and v.startswith("re:") else v, glob_ok=False)
