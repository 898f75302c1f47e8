"""Where a URL's body lives under ``OUT/pages``: readable, and never outside the output directory.

``http://Example.org:8080/a/b.html?x=1`` → ``example.org_8080/a/b.html!x=1``. The rules make the
mapping injective on canonical URLs and confined to ``pages/``:

* every path segment keeps only ``[A-Za-z0-9._~%+=,@-]``; anything else is percent-escaped, so
  no ``/``, ``\\``, NUL or control byte survives, and the result is ASCII;
* the URL's own escapes stay as they are (``%20``, ``%C3%A9``), except those of a character we
  escape ourselves (``%26`` is ``%2526``: ``?a=b&c`` and ``?a=b%26c`` are two URLs) and a ``%``
  that starts none (``%25``). Characters no canonical URL holds raw (space, controls, ``"#<>``,
  non-ASCII) map as their escapes do;
* a segment may not start with ``.`` or ``_`` (escaped as ``%2E``/``%5F``): no ``..``, no
  hidden files, and names starting with ``_`` are ours (``_index.html`` for a trailing ``/``);
* ``!`` is escaped inside segments and then separates the query;
* an empty directory segment (``a//b``) is ``_``;
* names of 200 bytes or more are cut to 183 and suffixed with ``~`` and a hash of the whole name
  (a shorter name is never cut, so never looks like a cut one);
* Windows device names (``CON``, ``nul.txt``…) get a ``%`` escape of their first letter.

Screenshots (``OUT/screens``) use the same path plus ``.png``; there a folder whose name ends in
``.png`` has that dot escaped (``%2Epng``), so a screenshot never stands where another URL's folder
must be (``/x`` and ``/x.png/y``).
"""

from __future__ import annotations

import hashlib
import re

from yarl import URL

_SAFE = "A-Za-z0-9._~%+=,@-"
_UNSAFE = re.compile(f"[^{_SAFE}]")
_OURS = "!$&'()*/:;?[\\]^`{|}" + "%._" + "CPANLcpanl"  # what _escape and _segment write as %XX
_OWN_ESCAPE = re.compile("%(?![0-9A-Fa-f]{2})|%(?=(?:" + "|".join(f"{ord(c):02X}" for c in _OURS) + "))", re.IGNORECASE)
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
MAX_NAME = 200
INDEX = "_index.html"


def _escape(text: str) -> str:
    if "%" in text:
        text = _OWN_ESCAPE.sub("%25", text)
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogateescape")), text)


def _cap(name: str) -> str:
    if len(name) < MAX_NAME:
        return name
    return name[: MAX_NAME - 17] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _segment(raw: str) -> str:
    name = _escape(raw)
    if name[:1] in (".", "_") or _RESERVED.match(name):
        name = f"%{ord(name[0]):02X}" + name[1:]
    return name


def host_dir(url: URL) -> str:
    """``host_port``; the port is always present so http and https never share a folder."""
    return _cap(_segment(f"{url.host}") + f"_{url.port}")


def relative_path(url: URL) -> str:
    """The path of ``url``'s body relative to ``OUT/pages`` (always ``/``-separated)."""
    return "/".join(_parts(url))


def screenshot_path(url: URL) -> str:
    """The path of ``url``'s screenshot relative to ``OUT/screens``: its page's path plus ``.png``."""
    *dirs, leaf = _parts(url)
    return "/".join([*(d[:-4] + "%2E" + d[-3:] if d[-4:].lower() == ".png" else d for d in dirs), leaf + ".png"])


def _parts(url: URL) -> list[str]:
    *dirs, last = url.raw_path.split("/")[1:] or [""]
    leaf = _segment(last) if last else INDEX
    if url.raw_query_string:
        leaf += "!" + _escape(url.raw_query_string)
    return [host_dir(url), *(_cap(_segment(d)) if d else "_" for d in dirs), _cap(leaf)]
