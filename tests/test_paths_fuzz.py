"""Property: the URL → file path mapping never leaves OUT/pages and never maps two URLs to one file.

CI runs a few hundred examples; a dedicated run takes more:
    FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/test_paths_fuzz.py
"""

from __future__ import annotations

import os
import posixpath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.sinks.paths import MAX_NAME, relative_path
from crawler.urls import InvalidURL, parse_seed

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
HOSTILE = st.sampled_from(["..", ".", "%2e%2e", "%2E.", ".%2e", "%00", "\\", "//", "%2F", "CON",
                           "nul.txt", "_index.html", "!", "?", "#", "~", "%", "%%", "é", "\x7f"])
PATHS = st.lists(st.one_of(SEGMENT, HOSTILE), max_size=12).map("/".join)
QUERY = st.one_of(st.just(""), st.text(max_size=40).map(lambda q: "?" + q))


def to_url(host: str, path: str, query: str) -> str | None:
    try:
        return str(parse_seed(f"http://{host}/{path}{query}"))
    except (InvalidURL, ValueError):
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["a.test", "b.test:8080", "xn--bcher-kva.test"]), PATHS, QUERY),
                min_size=1, max_size=20))
def test_paths_stay_inside_and_never_collide(urls):
    seen: dict[str, str] = {}
    for host, path, query in urls:
        url = to_url(host, path, query)
        if url is None:
            continue
        rel = relative_path(parse_seed(url))
        parts = rel.split("/")
        assert posixpath.normpath(rel) == rel and not rel.startswith("/")
        assert ".." not in parts and "." not in parts and "" not in parts
        assert all(p.isascii() and p.isprintable() and "\\" not in p for p in parts)
        assert all(len(p) <= MAX_NAME for p in parts)
        assert seen.setdefault(rel, url) == url, f"{url} and {seen[rel]} share {rel}"
