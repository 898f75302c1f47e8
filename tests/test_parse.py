"""Link and title extraction with selectolax."""

from __future__ import annotations

from yarl import URL

from crawler.parsing.parse import parse_html

BASE = URL("http://a.com/dir/page.html")


def links(html: str, **kw) -> list[str]:
    return [link.text for link in parse_html(html.encode(), BASE, **kw).links]


def test_a_and_area_links_are_joined_and_deduplicated():
    html = (
        '<a href="x.html">x</a><a href="x.html#top">x again</a><map><area href="/y.html"></map>'
        '<a>no href</a><a href="  z.html  ">z</a>'
    )
    assert links(html) == ["http://a.com/dir/x.html", "http://a.com/y.html", "http://a.com/dir/z.html"]


def test_base_href_is_honoured():
    html = '<head><base href="http://a.com/other/"></head><a href="x.html">x</a>'
    assert links(html) == ["http://a.com/other/x.html"]


def test_non_http_schemes_are_skipped():
    html = (
        '<a href="javascript:void(0)">j</a><a href="mailto:a@b.c">m</a><a href="data:text/html,hi">d</a>'
        '<a href="tel:123">t</a><a href="ftp://a.com/f">f</a><a href="#frag">f</a><a href="ok.html">ok</a>'
    )
    assert links(html) == ["http://a.com/dir/ok.html"]


def test_rel_nofollow_and_meta_robots_nofollow():
    html = '<a href="a.html" rel="nofollow noopener">a</a><a href="b.html">b</a><a href="a.html">a2</a>'
    assert links(html) == ["http://a.com/dir/b.html", "http://a.com/dir/a.html"]
    assert links(html, follow_nofollow=True) == ["http://a.com/dir/a.html", "http://a.com/dir/b.html"]
    meta = '<head><meta name="Robots" content="noindex, NOFOLLOW"></head><a href="b.html">b</a>'
    assert links(meta) == []
    assert links(meta, follow_nofollow=True) == ["http://a.com/dir/b.html"]


def test_title_is_whitespace_normalised_and_optional():
    assert parse_html(b"<title>\n  A   title </title>", BASE).title == "A title"
    assert parse_html(b"<p>no title</p>", BASE).title is None


def test_broken_markup_and_bytes_do_not_raise():
    page = parse_html(b'<a href="x\xff\xfe.html">x</a><a href="http://[bad">b</a><<<>>', BASE)
    assert [link.host for link in page.links] == ["a.com"]


def test_declared_charsets_are_honoured():
    latin = "<title>Café</title>".encode("latin-1")
    assert parse_html(latin, BASE, content_type="text/html; charset=ISO-8859-1").title == "Café"
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">' + latin
    assert parse_html(meta, BASE, content_type="text/html").title == "Café"
    assert parse_html(b"\xef\xbb\xbf<title>\xc3\xa9t\xc3\xa9</title>", BASE).title == "été"
    assert parse_html(latin, BASE).title == "Café"  # undeclared, not UTF-8: windows-1252
    assert parse_html(latin, BASE, content_type="text/html; charset=nonsense-9").title == "Café"
