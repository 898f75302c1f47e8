"""Where a URL's body lives under ``OUT/pages``: readable, and never outside the output directory.

``http://Example.org:8080/a/b.html?x=1`` → ``example.org_8080/a/b.html!x=1``. The rules make the
mapping injective on canonical URLs and confined to ``pages/``:

* every path segment keeps only ``[A-Za-z0-9._~%+=,@-]``; anything else is percent-escaped, so
  no ``/``, ``\\``, NUL or control byte survives, and the result is ASCII;
* a segment may not start with ``.`` or ``_`` (escaped as ``%2E``/``%5F``): no ``..``, no
  hidden files, and names starting with ``_`` are ours (``_index.html`` for a trailing ``/``);
* ``!`` is escaped inside segments and then separates the query;
* an empty directory segment (``a//b``) is ``_``;
* names longer than 200 bytes are cut and suffixed with a hash of the whole name;
* Windows device names (``CON``, ``nul.txt``…) get a ``%`` escape of their first letter.
"""

from __future__ import annotations

import hashlib
import re

from yarl import URL

_UNSAFE = re.compile(r"[^A-Za-z0-9._~%+=,@-]")
_PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
MAX_NAME = 200
INDEX = "_index.html"


def _escape(text: str) -> str:
    text = _PCT.sub("%25", text)
    return _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogateescape")), text)


def _cap(name: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    return name[: MAX_NAME - 17] + "~" + hashlib.sha256(name.encode()).hexdigest()[:16]


def _segment(raw: str) -> str:
    name = _escape(raw).replace("!", "%21")
    if name[:1] in (".", "_") or _RESERVED.match(name):
        name = f"%{ord(name[0]):02X}" + name[1:]
    return name


def host_dir(url: URL) -> str:
    """``host_port``; the port is always present so http and https never share a folder."""
    return _cap(_segment(f"{url.host}") + f"_{url.port}")


def relative_path(url: URL) -> str:
    """The path of ``url``'s body relative to ``OUT/pages`` (always ``/``-separated)."""
    *dirs, last = url.raw_path.split("/")[1:] or [""]
    leaf = _segment(last) if last else INDEX
    if url.raw_query_string:
        leaf += "!" + _escape(url.raw_query_string).replace("!", "%21")
    return "/".join([host_dir(url), *(_cap(_segment(d)) if d else "_" for d in dirs), _cap(leaf)])
