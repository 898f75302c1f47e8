"""Schema of the job's extraction and follow rules (``extract:``, ``follow:``), validated at load
time: a bad CSS selector or regex is a config error naming the field, not a failure on every page."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator
from selectolax.lexbor import LexborHTMLParser


class Strict(BaseModel):
    """Base of every job model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _css(selector: str | None) -> str | None:
    """A CSS selector selectolax accepts (tried once on an empty document)."""
    if selector is not None:
        try:
            LexborHTMLParser("<p></p>").css(selector)
        except Exception:
            raise ValueError(f"bad CSS selector {selector!r}") from None
    return selector


def _pattern(pattern: str | None, *, glob_ok: bool) -> str | None:
    """A regex (or, where globs are allowed, ``re:``-prefixed regex) that compiles."""
    if pattern is not None and (not glob_ok or pattern.startswith("re:")):
        try:
            re.compile(pattern[3:] if glob_ok else pattern)
        except re.error as e:
            raise ValueError(f"bad regex {pattern!r}: {e}") from None
    return pattern


class FieldRule(Strict):
    """One extracted value: a CSS selector and what to take from the nodes it matches."""

    css: str
    attr: str | None = None  # take this attribute instead of the text
    html: bool = False  # take the inner HTML instead of the text
    all: bool = False  # a list of every match instead of the first
    regex: str | None = None  # keep the first group (or the whole match) of this regex
    type: Literal["str", "int", "float", "bool", "url"] = "str"
    default: Any = None
    required: bool = False

    @field_validator("css")
    @classmethod
    def _check_css(cls, v: str) -> str:
        return _css(v) or v

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, v: str | None) -> str | None:
        return _pattern(v, glob_ok=False)


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
        return _css(v)

    @field_validator("match")
    @classmethod
    def _check_match(cls, v: str) -> str:
        return _pattern(v, glob_ok=True) or v

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        """``price: .price`` means ``price: {css: .price}``."""
        if isinstance(fields, dict):
            return {k: {"css": v} if isinstance(v, str) else v for k, v in fields.items()}
        return fields


class FollowRule(Strict):
    """Follow links found inside ``css`` regions (all of the page if omitted) whose URL matches
    ``match`` (a regex; any if omitted). With follow rules, a link must satisfy one of them."""

    css: str | None = None
    match: str | None = None

    @field_validator("css")
    @classmethod
    def _check_css(cls, v: str | None) -> str | None:
        return _css(v)

    @field_validator("match")
    @classmethod
    def _check_match(cls, v: str | None) -> str | None:
        return _pattern(v, glob_ok=False)
