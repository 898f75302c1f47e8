"""The candidates compared, with what each one parses with; libraries load only when asked for."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.content.datasets import Page


@dataclass(frozen=True)
class Extractor:
    name: str
    run: Callable[[Page], str]
    markdown: bool  # output is Markdown (fidelity is checked)
    main_content: bool  # tries to drop boilerplate (False: whole-page converter, a baseline)
    tree: str  # what it parses with / whether it can take an existing tree


def make_extractors() -> list[Extractor]:
    """Every candidate. The libraries are imported here, after silencing their warnings, so that
    their import time counts in total_cpu_s and --help works without them."""
    warnings.filterwarnings("ignore")
    from benchmarks.content import extractors as x
    from benchmarks.content import ours as o
    from benchmarks.content import semantic as s

    found = [
        Extractor("crawler", o.crawler_md, True, True, "selectolax tree (ours); h2m re-parses the region's HTML"),
        Extractor("crawler-text", o.crawler_text, False, True, "selectolax tree (ours); to_text of its Markdown"),
        Extractor("crawler-region", o.crawler_region, False, True, "selectolax tree (ours); region choice only"),
        Extractor("crawler-body", o.crawler_body_md, True, False, "selectolax tree; whole body to Markdown"),
        Extractor(
            "semantic+h2m", s.semantic_h2m, True, True, "selectolax tree (ours); h2m re-parses the region's HTML"
        ),
        Extractor(
            "hybrid(readability|semantic)+h2m",
            s.hybrid_h2m,
            True,
            True,
            "lxml for readability + selectolax region; h2m re-parses",
        ),
        Extractor("trafilatura", x.trafilatura_text, False, True, "lxml (accepts an lxml tree, not selectolax)"),
        Extractor("trafilatura-recall", x.trafilatura_recall, False, True, "lxml"),
        Extractor("trafilatura-md", x.trafilatura_md, True, True, "lxml"),
        Extractor("trafilatura-html+h2m", x.trafilatura_html_h2m, True, True, "lxml, then h2m re-parses its HTML"),
        Extractor("resiliparse", x.resiliparse_text, False, True, "own lexbor binding (HTMLTree), not selectolax's"),
        Extractor("resiliparse-minhtml+h2m", x.resiliparse_h2m, True, True, "lexbor, then h2m re-parses"),
        Extractor("readability-lxml", x.readability_text, False, True, "lxml (own parse of the string)"),
        Extractor("readability+h2m", x.readability_h2m, True, True, "lxml, then h2m re-parses"),
        Extractor("justext", x.justext_text, False, True, "lxml (own parse of bytes)"),
        Extractor("inscriptis", x.inscriptis_text, False, False, "lxml (accepts an lxml tree)"),
        Extractor("html-to-markdown", x.h2m_page, True, False, "own Rust parser (html5ever); string in"),
        Extractor("markdownify", x.markdownify_page, True, False, "BeautifulSoup (accepts a soup)"),
    ]
    if x.HAS_NEWSPAPER:
        found.append(Extractor("newspaper4k", x.newspaper_text, False, True, "lxml (own parse)"))
    return found


def selectolax_parse(p: Page) -> str:
    """Reference cost: the parse our parser process already does."""
    from selectolax.lexbor import LexborHTMLParser

    LexborHTMLParser(p.html)
    return ""


PARSE_ONLY = Extractor("selectolax-parse-only", selectolax_parse, False, False, "reference")


def pick(extractors: list[Extractor], only: str | None) -> list[Extractor]:
    """The --only subset, in the registry's order."""
    if not only:
        return extractors
    wanted = set(only.split(","))
    return [e for e in extractors if e.name in wanted]
