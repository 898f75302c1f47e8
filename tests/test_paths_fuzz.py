"""Property: the URL → file path mapping never leaves OUT/pages and never maps two URLs to one file.

CI runs a few hundred examples; a dedicated run takes more:
    FUZZ_EXAMPLES=100000 .venv/bin/pytest tests/test_paths_fuzz.py
"""

from __future__ import annotations

import os
import posixpath

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.core.urls import InvalidURL, parse_seed
from crawler.sinks.paths import MAX_NAME, relative_path, screenshot_path

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "400"))
SEGMENT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
ESCAPES = ["%26", "&", "%21", "!", "%25", "%", "%2F", "%3A", ":", "%2E", "%5F", "_", "%43", "%c3%a9", "%20"]
HOSTILE = st.sampled_from(
    [
        "..",
        ".",
        "%2e%2e",
        "%2E.",
        ".%2e",
        "%00",
        "\\",
        "//",
        "%2F",
        "CON",
        "nul.txt",
        "_index.html",
        "!",
        "?",
        "#",
        "~",
        "%",
        "%%",
        "é",
        "\x7f",
        *ESCAPES,
    ]
)
PATHS = st.lists(st.one_of(SEGMENT, HOSTILE), max_size=12).map("/".join)
QUERY = st.one_of(
    st.just(""),
    st.lists(st.one_of(st.text(max_size=10), st.sampled_from(ESCAPES)), max_size=6).map(
        lambda parts: "?" + "".join(parts)
    ),
)


def to_url(host: str, path: str, query: str) -> str | None:
    try:
        return str(parse_seed(f"http://{host}/{path}{query}"))
    except (InvalidURL, ValueError):
        return None


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["a.test", "b.test:8080", "xn--bcher-kva.test"]), PATHS, QUERY),
        min_size=1,
        max_size=20,
    )
)
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


TOKENS = st.sampled_from(["a", "/", "x", ".png", ".PNG", *ESCAPES])
SHORT = st.tuples(st.lists(TOKENS, max_size=4).map("".join), st.lists(TOKENS, max_size=4).map("".join))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(SHORT, min_size=2, max_size=30))
def test_urls_that_differ_only_in_escapes_get_their_own_files(urls):
    """Few characters, many URLs: near twins (``?a=b&c`` and ``?a=b%26c``) meet often.
    Screenshots too, and only they end in ``.png``: none stands where another needs a folder."""
    pages: dict[str, str] = {}
    shots: dict[str, str] = {}
    for path, query in urls:
        url = to_url("a.test", path, "?" + query if query else "")
        if url is not None:
            rel = relative_path(parse_seed(url))
            assert pages.setdefault(rel, url) == url, f"{url} and {pages[rel]} share {rel}"
            shot = screenshot_path(parse_seed(url))
            assert shots.setdefault(shot, url) == url, f"{url} and {shots[shot]} share {shot}"
            *folders, name = shot.lower().split("/")  # .lower(): not even on a case-blind disk
            assert name.endswith(".png") and not any(f.endswith(".png") for f in folders), shot
