"""Main content and Markdown: what a reader of OUT/content.jsonl would notice."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from crawler.content.markdown import to_markdown, to_text
from crawler.content.region import main_region

BASE = "http://example.com/docs/page.html"
PARA = (
    "The committee met on Tuesday, after a long delay, to discuss the budget, the schedule and the "
    "staffing of the new library branch, which has been planned for years. "
)


def markdown_of(html: str, base: str = BASE) -> str:
    return to_markdown(main_region(LexborHTMLParser(html)), base)


def article_page(extra_body: str = "") -> str:
    """A blog-like page without <main>/<article>: the detector must find the text by itself."""
    return f"""<html><head><title>Budget</title></head><body>
    <div class="cookie-banner">We use cookies to improve your experience. Accept all cookies, or manage them.</div>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li><a href="/about">About us</a></li></ul></nav>
    <div id="wrapper">
      <div class="post">
        <h1>Library budget approved</h1>
        <p>{PARA}</p><p>{PARA.replace("committee", "council")}</p><p>{PARA.replace("budget", "plan")}</p>
        <ul class="related-links">
          <li><a href="/a">Other story about a library far away</a></li>
          <li><a href="/b">Another story about budgets elsewhere</a></li>
          <li><a href="/c">Yet another story nobody asked for</a></li>
        </ul>
      </div>
      <div class="sidebar"><h3>Popular</h3><p>Sidebar text about popular posts, widgets, and more, long enough.</p></div>
    </div>
    {extra_body}
    <footer><p>Copyright 2026, Example Newspaper, all rights reserved, terms, privacy.</p></footer>
    </body></html>"""


def test_article_text_is_kept_and_boilerplate_dropped():
    md = markdown_of(article_page())
    assert "# Library budget approved" in md
    assert md.count("The committee met on Tuesday") == 2
    assert "council met on Tuesday" in md and "to discuss the plan" in md
    for junk in ("cookies", "About us", "Other story", "Sidebar text", "Copyright"):
        assert junk not in md


def test_single_main_element_is_the_region():
    html = f"""<body><header><a href="/">Site</a> <a href="/x">Menu item</a></header>
    <main><h1>Guide</h1><p>{PARA}</p><p>{PARA}</p></main>
    <aside><p>Related reading, with many words, that is not the guide, at all.</p></aside></body>"""
    md = markdown_of(html)
    assert md.startswith("# Guide")
    assert "Related reading" not in md and "Menu item" not in md


def test_docs_page_without_main_keeps_code_and_tables():
    """The PostgreSQL docs layout: navigation tables above and below, no <main> or <article>."""
    nav = (
        '<div class="navheader"><table width="100%" summary="Navigation header"><tr><th colspan="3">9.7. '
        'Pattern Matching</th></tr><tr><td><a accesskey="p" href="functions-string.html">Prev</a></td>'
        '<td><a accesskey="u" href="functions.html">Up</a></td><td><a href="functions-formatting.html">Next'
        "</a></td></tr></table><hr></div>"
    )
    footer = nav.replace("navheader", "navfooter").replace("Navigation header", "Navigation footer")
    html = f"""<body>{nav}<div class="sect1" id="FUNCTIONS-MATCHING">
    <h2 class="title">9.7. Pattern Matching</h2><p>{PARA}</p><p>{PARA}</p>
    <pre class="programlisting">'abc' LIKE 'abc'    true
'abc' LIKE 'a%'     true</pre>
    <div class="table"><table class="table" summary="Regular Expression Match Operators" border="1">
    <thead><tr><th>Operator</th><th>Description</th></tr></thead>
    <tbody><tr><td><code>~</code></td><td>String matches regular expression, case sensitively</td></tr>
    <tr><td><code>~*</code></td><td>String matches regular expression, case insensitively</td></tr></tbody>
    </table></div></div>{footer}</body>"""
    md = markdown_of(html)
    assert "```\n'abc' LIKE 'abc'    true\n'abc' LIKE 'a%'     true\n```" in md
    rows = [line.split("|")[1:-1] for line in md.splitlines() if line.startswith("|")]
    cells = [[c.strip() for c in row] for row in rows]
    assert ["Operator", "Description"] in cells
    assert ["`~*`", "String matches regular expression, case insensitively"] in cells
    assert "Prev" not in md and "Next" not in md


def test_links_inside_pre_do_not_break_the_fence():
    html = (
        '<main><p>Grammar of the statement, in full, as the parser reads it:</p><pre><strong id="g">'
        '<a href="#if_stmt">if_stmt</a></strong> ::= "if" <a href="expressions.html#x">assignment_expression</a>'
        ' ":" <a href="#suite">suite</a></pre></main>'
    )
    md = markdown_of(html)
    assert '```\nif_stmt ::= "if" assignment_expression ":" suite\n```' in md


def test_hidden_text_stays_out_of_the_markdown():
    # Decoys that scrapers copy and readers never see (spans are unwrapped for speed: not these).
    html = (
        f"<article><h1>Contact</h1><p>{PARA}</p><p>Write to alice<span style='display:none'>REMOVE-THIS</span>"
        "@example.com or call 555-<span hidden>0000</span>1234; <span class='pre'>price</span> "
        "<span style='color: red'>12</span> EUR.</p></article>"
    )
    md = markdown_of(html)
    assert "Write to alice@example.com or call 555-1234; price 12 EUR." in md
    assert "REMOVE" not in md and "0000" not in md


def test_sphinx_highlight_names_the_fence_language():
    html = (
        f"<main><p>{PARA}</p>"
        '<div class="highlight-python3 notranslate"><div class="highlight"><pre><span class="k">import</span>'
        ' <span class="nn">os</span>\n</pre></div></div>'
        '<div class="highlight-default notranslate"><div class="highlight"><pre>$ make\n</pre></div></div>'
        '<pre><code class="language-rust">fn main() {}</code></pre></main>'
    )
    md = markdown_of(html)
    assert "```python3\nimport os\n```" in md
    assert "```\n$ make\n```" in md  # "default" names no language
    assert "```rust\nfn main() {}\n```" in md


def test_relative_links_and_images_become_absolute():
    html = f'<article><p>{PARA} See <a href="../guide/intro.html">the intro</a>.</p><img src="img/fig1.png" alt="Figure 1"></article>'
    md = markdown_of(html)
    assert "[the intro](http://example.com/guide/intro.html)" in md
    assert "![Figure 1](http://example.com/docs/img/fig1.png)" in md


def test_to_text_strips_markdown_syntax_but_keeps_code():
    md = (
        "# Title\n\nSome **bold** and *em* text with [a link](http://x/y) and `code`.\n\n"
        "![alt](http://x/i.png)\n\n- item one\n- item two\n\n> quoted line\n\n"
        "| a | b |\n| --- | --- |\n| 1 | 2 |\n\n```python\nx = [1, 2]  # *not* emphasis\n```\n"
    )
    text = to_text(md)
    assert text == (
        "Title\n\nSome bold and em text with a link and code.\n\nitem one\nitem two\n\nquoted line\n\n"
        "a\tb\n1\t2\n\nx = [1, 2]  # *not* emphasis\n"
    )


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html></html>",
        "just text, no tags",
        "<frameset><frame src='a.html'><frame src='b.html'></frameset>",
        "<body></body>",
        "<div>" * 3000 + "deep text" + "</div>" * 3000,
        "<table><tr><td><table><tr><td>nested</td></tr></table></td></tr></table>",
        "<body><p hidden>only hidden text here, nothing else on the page</p></body>",
    ],
)
def test_odd_input_does_not_raise(html: str):
    md = markdown_of(html)
    assert isinstance(md, str)
    assert isinstance(to_text(md), str)


def test_whole_text_page_is_kept_when_nothing_looks_like_an_article():
    md = markdown_of("<body><div>One short line.</div><div>Another short line.</div></body>")
    assert "One short line." in md and "Another short line." in md


def test_short_page_still_loses_its_menu_and_cookie_notice():
    html = """<body><div class="cookie-consent">This site uses cookies. Accept?</div>
    <nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>
    <p>Opening hours: Monday to Friday, nine to five.</p></body>"""
    md = markdown_of(html)
    assert "Opening hours: Monday to Friday, nine to five." in md
    assert "cookies" not in md and "Shop" not in md
