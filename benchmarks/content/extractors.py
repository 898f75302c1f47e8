"""The library candidates, one function each: a page in, main text or Markdown out.

Each call parses the HTML string itself, so its parse is part of the cost measured.
"""

from __future__ import annotations

import re

import html_to_markdown
import justext
import markdownify
import readability
import trafilatura
from inscriptis import get_text
from resiliparse.extract.html2text import extract_plain_text
from resiliparse.parse.html import HTMLTree

from benchmarks.content.datasets import Page
from benchmarks.content.htmltext import html_to_text

try:
    from newspaper import Article
except ImportError:  # optional: without newspaper4k the comparison leaves it out
    Article = None
HAS_NEWSPAPER = Article is not None

JUSTEXT_LANGS = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "ru": "Russian",
    "pl": "Polish",
    "ja": "Japanese",
    "zh": "Chinese",
    "cs": "Czech",
    "sv": "Swedish",
    "fi": "Finnish",
    "tr": "Turkish",
}


def page_lang(html: str) -> str:
    """The page's declared language: jusText needs the matching stoplist."""
    m = re.search(r"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", html[:5000])
    return m.group(1).lower() if m else "en"


def h2m(html: str, base_url: str | None = None) -> str:
    """html-to-markdown with the page's URL as base, so relative links resolve; no front matter."""
    opts = html_to_markdown.ConversionOptions(base_url=base_url, extract_metadata=False)
    return str(html_to_markdown.convert(html, opts).content)


def trafilatura_text(p: Page) -> str:
    return trafilatura.extract(p.html, url=p.url) or ""


def trafilatura_recall(p: Page) -> str:
    return trafilatura.extract(p.html, url=p.url, favor_recall=True) or ""


def trafilatura_md(p: Page) -> str:
    out = trafilatura.extract(p.html, url=p.url, output_format="markdown", include_links=True, include_formatting=True)
    return out or ""


def trafilatura_html_h2m(p: Page) -> str:
    """trafilatura's choice of content, html-to-markdown's conversion of it."""
    main = trafilatura.extract(p.html, url=p.url, output_format="html", include_links=True, include_formatting=True)
    return h2m(main, p.url) if main else ""


def resiliparse_text(p: Page) -> str:
    return str(extract_plain_text(HTMLTree.parse(p.html), main_content=True))


def resiliparse_h2m(p: Page) -> str:
    """resiliparse keeps minimal HTML of the main content; html-to-markdown turns it into Markdown."""
    mini = extract_plain_text(HTMLTree.parse(p.html), main_content=True, preserve_formatting="minimal_html", links=True)
    return h2m(str(mini), p.url)


def readability_text(p: Page) -> str:
    return html_to_text(readability.Document(p.html).summary(html_partial=True))


def readability_h2m(p: Page) -> str:
    return h2m(readability.Document(p.html).summary(html_partial=True), p.url)


def justext_text(p: Page) -> str:
    lang = JUSTEXT_LANGS.get(page_lang(p.html), "English")
    paras = justext.justext(p.html.encode("utf-8"), justext.get_stoplist(lang))
    return "\n".join(x.text for x in paras if not x.is_boilerplate)


def inscriptis_text(p: Page) -> str:
    """Whole-page text: a baseline with no boilerplate removal."""
    return str(get_text(p.html))


def h2m_page(p: Page) -> str:
    """Whole-page Markdown: a baseline with no boilerplate removal."""
    return h2m(p.html, p.url)


def markdownify_page(p: Page) -> str:
    """Whole-page Markdown: a baseline with no boilerplate removal."""
    return str(markdownify.markdownify(p.html, heading_style="ATX", code_language=""))


def newspaper_text(p: Page) -> str:
    """newspaper4k on the HTML given (download(input_html=...) fetches nothing)."""
    a = Article(p.url, fetch_images=False, memoize_articles=False)
    a.download(input_html=p.html)
    a.parse()
    return str(a.text)
