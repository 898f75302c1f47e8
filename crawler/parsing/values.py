"""Turning the text an extraction rule selected into the value the user asked for.

Each step either gives a value or raises :class:`Unconvertible` with a message that quotes the
text: a value that cannot be converted is reported, never replaced by a default in silence.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from yarl import URL

from crawler.core.errors import InvalidURL
from crawler.core.urls import resolve

TRUE_WORDS = frozenset({"true", "yes", "1", "on", "y"})
FALSE_WORDS = frozenset({"false", "no", "0", "off", "n", ""})
_NUMBER = re.compile(r"[-+−]?\d+(?:[.,'\s\u00a0\u202f]\d+)*")  # digit groups and their separators
_GROUPING = re.compile(r"['\s\u00a0\u202f]")  # always thousands separators
# a multiplier right after the number, as a word of its own ("$59K", "1.2M", "3 bn", "1,5 Mio"; "£5m"
# with a currency sign, since "5m" alone is metres); a unit that starts with the same letter
# ("12kg", "59 KB", "5 Mbps") is a unit, not a multiplier
_MULTIPLIER = re.compile(
    r"(?:(?P<letter>[kKMB])|(?P<money>[mb])|\s?(?P<word>bn|mn|Mio|Mrd|thousand|million|billion))"
    r"(?![^\W\d_])"
)
MULTIPLIERS = {
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "B": 10**9,
    "m": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "mn": 10**6,
    "Mio": 10**6,
    "Mrd": 10**9,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
}


class Unconvertible(Exception):
    """The selected text cannot become the value asked for; the message says why."""


def shown(raw: object) -> str:
    """``raw`` as quoted in an error: short and on one line."""
    text = raw if isinstance(raw, str) else repr(raw)
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def number(raw: str, decimal: str = ".") -> float:
    """The one number in ``raw``, wherever the currency sign or unit is: ``"£1,234.50"`` → 1234.5,
    ``"1.234,50 €"`` with ``decimal=","`` → 1234.5, ``"$59K"`` → 59000 (a multiplier, not a unit).
    Other separators (the other of ``.``/``,``, spaces, apostrophes) group thousands, in threes.
    Text with no number, with two (a range, "3 for 10") or with separators that do not fit is
    Unconvertible."""
    found = list(_NUMBER.finditer(raw))
    if len(found) != 1:
        raise Unconvertible(f"{shown(raw)} is not one number ({'several found' if found else 'none found'})")
    thousands = "," if decimal == "." else "."
    text = _GROUPING.sub(thousands, found[0][0]).replace("−", "-")
    whole, sep, fraction = text.partition(decimal)
    groups = whole.lstrip("+-").split(thousands)
    if (
        decimal in fraction
        or thousands in fraction
        or (len(groups) > 1 and (len(groups[0]) > 3 or any(len(g) != 3 for g in groups[1:])))
    ):
        raise Unconvertible(f"{shown(raw)} is not a number with decimal {decimal!r} (thousands {thousands!r})")
    digits = whole.replace(thousands, "")
    value = Decimal(f"{digits}.{fraction}" if sep else digits)
    suffix = _MULTIPLIER.match(raw, found[0].end())
    if suffix is None or (suffix["money"] and not any(unicodedata.category(c) == "Sc" for c in raw)):
        return float(value)
    return float(value * MULTIPLIERS[suffix[0].strip()])


def integer(raw: str, decimal: str = ".") -> int:
    value = number(raw, decimal)
    if not value.is_integer():
        raise Unconvertible(f"{shown(raw)} is not a whole number")
    return int(value)


def boolean(raw: str) -> bool:
    low = raw.strip().lower()
    if low not in TRUE_WORDS | FALSE_WORDS:
        raise Unconvertible(
            f"{shown(raw)} is not a bool word (true/false, yes/no, on/off, y/n, 1/0); use map: for other words"
        )
    return low in TRUE_WORDS


def date(raw: str, fmt: str | None) -> str:
    """ISO 8601 text of a date, or of a date and time, read with ``fmt`` (strptime) or as ISO 8601."""
    text = raw.strip()
    try:
        parsed = datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        raise Unconvertible(f"{shown(raw)} is not a date " + (f"in format {fmt!r}" if fmt else "(ISO 8601)")) from None
    has_time = any(d in fmt for d in ("%H", "%I", "%M", "%S", "%X", "%c")) if fmt else len(text) > 10
    return parsed.isoformat() if has_time else parsed.date().isoformat()


def url(raw: str, base: URL) -> str:
    """The browser's URL of ``raw`` on the page at ``base`` (``crawler.core.urls``)."""
    try:
        return resolve(raw.strip(), str(base))
    except InvalidURL as e:
        raise Unconvertible(f"{shown(raw)} is not a URL ({e})") from None


def convert(raw: Any, kind: str, *, base: URL, decimal: str = ".", fmt: str | None = None) -> Any:
    """``raw`` (text, or a JSON value from a script or JSON-LD) as ``kind``."""
    if kind == "str":
        return raw
    if isinstance(raw, bool) and kind == "bool":
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool) and kind in ("int", "float"):
        if kind == "float":
            return float(raw)
        if float(raw).is_integer():
            return int(raw)
        raise Unconvertible(f"{shown(raw)} is not a whole number")
    text = raw if isinstance(raw, str) else str(raw)
    if kind == "int":
        return integer(text, decimal)
    if kind == "float":
        return number(text, decimal)
    if kind == "bool":
        return boolean(text)
    if kind == "date":
        return date(text, fmt)
    return url(text, base)


class Mapper:
    """``map:``: exact text (after trimming) or ``re:``-regex (searched) → value; ``"*"`` catches
    the rest. Text no key matches is Unconvertible: a new wording on the site must not pass as a
    known one."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self._exact = {k: v for k, v in table.items() if not k.startswith("re:") and k != "*"}
        self._patterns = [(re.compile(k[3:]), v) for k, v in table.items() if k.startswith("re:")]
        self._fallback = table.get("*", _NONE)

    def __call__(self, raw: Any) -> Any:
        text = raw.strip() if isinstance(raw, str) else str(raw)
        if text in self._exact:
            return self._exact[text]
        for pattern, value in self._patterns:
            if pattern.search(text):
                return value
        if self._fallback is not _NONE:
            return self._fallback
        raise Unconvertible(f"{shown(text)} is not a key of map (add it, a 're:' pattern or '*')")


_NONE = object()
