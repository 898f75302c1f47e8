#!/usr/bin/env python3
"""Compare main-content extractors and HTML-to-Markdown converters (study for issue 27).

Three measurements, each over a fixed, deterministic page set, one library at a time:

* ``quality``: word-level bag-of-words precision / recall / F1 of each extractor's main text
  against public ground truth (Mozilla Readability test pages; scrapinghub's
  article-extraction-benchmark), plus CPU ms per page on those pages.
* ``cost``: CPU ms per page (time.process_time) on 300 pages of the local docs corpus
  (the HTML files behind /work/shared/bench/corpus.sh, read straight from disk).
* ``fidelity``: on ~30 Python docs pages, does every ``<pre>`` of the main region come out as a
  fenced code block with identical text, and does every table row come out as a GFM table row
  with the same cells?

The datasets are read from bare git mirrors (``fetch`` of the public repositories); nothing is
downloaded here. Example::

    /tmp/v27/bin/python benchmarks/content/compare_extractors.py quality --json q.json
    /tmp/v27/bin/python benchmarks/content/compare_extractors.py cost --pages 300
    /tmp/v27/bin/python benchmarks/content/compare_extractors.py fidelity --pages 30
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import re
import signal
import statistics
import subprocess
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
from lxml import etree

MIRRORS = Path("/work/.mirror")
READABILITY_REPO = MIRRORS / "mozilla+readability/repo"
SCRAPINGHUB_REPO = MIRRORS / "scrapinghub+article-extraction-benchmark/repo"
BEVENDORFF_REPO = MIRRORS / "chatnoir-eu+web-content-extraction-benchmark/repo"
DOCS_ROOTS = {
    "python": Path("/usr/share/doc/python3-doc/html"),
    "postgres": Path("/usr/share/doc/postgresql-doc-15/html"),
    "django": Path("/usr/share/doc/python-django-doc/html"),
    "cpp": Path("/usr/share/cppreference/doc/html"),
}
PAGE_TIMEOUT_S = 30  # a page that takes longer counts as a failure (empty output)
MAX_HTML_BYTES = 8_000_000  # skip absurdly large inputs (none of the chosen sets reaches this)

# ---------------------------------------------------------------------------------------------
# Pages


@dataclass(frozen=True)
class Page:
    dataset: str
    name: str
    html: str
    truth: str = ""  # ground-truth main text ("" where there is none)
    url: str = "http://127.0.0.1/page.html"


def git_show(repo: Path, path: str) -> bytes:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"HEAD:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout


def git_ls(repo: Path, path: str) -> list[str]:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "--name-only", "HEAD", path + "/"],
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def git_head(repo: Path) -> str:
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "body",
        "br",
        "caption",
        "dd",
        "div",
        "dl",
        "dt",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "html",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment: block elements become line breaks, inline ones do not."""
    if not html.strip():
        return ""
    try:
        root = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError):
        return ""
    parts: list[str] = []

    def walk(el: Any) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("script", "style", "noscript", "template") or not isinstance(el.tag, str):
            if el.tail:
                parts.append(el.tail)
            return
        block = tag in BLOCK_TAGS
        if block:
            parts.append("\n")
        if el.text:
            parts.append(el.text)
        for child in el:
            walk(child)
        if block:
            parts.append("\n")
        if el.tail:
            parts.append(el.tail)

    walk(root)
    return "".join(parts)


def decode(raw: bytes) -> str:
    head = raw[:4096].decode("ascii", "replace").lower()
    m = re.search(r"charset=[\"']?([a-z0-9_\-]+)", head)
    enc = m.group(1) if m else "utf-8"
    try:
        return raw.decode(enc, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def load_readability(limit: int | None) -> list[Page]:
    pages: list[Page] = []
    for d in git_ls(READABILITY_REPO, "test/test-pages"):
        src = git_show(READABILITY_REPO, f"{d}/source.html").decode("utf-8", "replace")
        exp = git_show(READABILITY_REPO, f"{d}/expected.html").decode("utf-8", "replace")
        pages.append(Page("readability", d.rsplit("/", 1)[-1], src, html_to_text(exp)))
    return pages[:limit]


def load_scrapinghub(limit: int | None) -> list[Page]:
    truth = json.loads(git_show(SCRAPINGHUB_REPO, "ground-truth.json"))
    pages: list[Page] = []
    for key in sorted(truth):
        raw = gzip.decompress(git_show(SCRAPINGHUB_REPO, f"html/{key}.html.gz"))
        pages.append(Page("scrapinghub", key[:12], decode(raw), truth[key]["articleBody"]))
    return pages[:limit]


def bevendorff_status() -> str:
    blob = git_show(BEVENDORFF_REPO, "datasets/combined.tar.xz")
    if blob.startswith(b"version https://git-lfs"):
        return "datasets/combined.tar.xz is a Git LFS pointer; the archive is not in the snapshot"
    return "present"


def evenly(items: list[Path], n: int) -> list[Path]:
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def docs_files(site: str) -> list[Path]:
    root = DOCS_ROOTS[site].resolve()
    return sorted(p for p in root.rglob("*.html") if p.is_file() and "_static" not in p.parts)


def load_docs(n: int) -> list[Page]:
    """n pages spread evenly over the four docs sites (n/4 each, evenly spaced in sorted order)."""
    per = n // len(DOCS_ROOTS)
    pages: list[Page] = []
    for site in DOCS_ROOTS:
        for p in evenly(docs_files(site), per):
            rel = p.relative_to(DOCS_ROOTS[site].resolve())
            html = p.read_bytes().decode("utf-8", "replace")
            pages.append(Page(f"docs-{site}", str(rel), html, url=f"http://{site}.docs.test:8080/{rel}"))
    return pages


def load_python_fidelity(n: int) -> list[Page]:
    """Python docs pages: 2/3 evenly among pages with <pre>, 1/3 among pages with a docutils table."""
    files = docs_files("python")
    texts = {p: p.read_text("utf-8", "replace") for p in files}
    with_table = [p for p in files if 'class="docutils' in texts[p] and "<table" in texts[p]]
    with_pre = [p for p in files if "<pre" in texts[p] and p not in set(with_table)]
    chosen = evenly(with_pre, n - n // 3) + evenly(with_table, n // 3)
    root = DOCS_ROOTS["python"].resolve()
    return [
        Page(
            "python-fidelity",
            str(p.relative_to(root)),
            texts[p],
            url=f"http://python.docs.test:8080/{p.relative_to(root)}",
        )
        for p in chosen
    ]


# ---------------------------------------------------------------------------------------------
# Extractors


@dataclass(frozen=True)
class Extractor:
    name: str
    run: Callable[[Page], str]
    markdown: bool  # output is Markdown (fidelity is checked)
    main_content: bool  # tries to drop boilerplate (False: whole-page converter, a baseline)
    tree: str  # what it parses with / whether it can take an existing tree


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
    m = re.search(r"<html[^>]*\blang=[\"']?([a-zA-Z]{2})", html[:5000])
    return m.group(1).lower() if m else "en"


def make_extractors() -> list[Extractor]:
    warnings.filterwarnings("ignore")
    import html_to_markdown
    import justext
    import markdownify
    import readability
    import trafilatura
    from inscriptis import get_text
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def h2m(html: str, base_url: str | None = None) -> str:
        opts = html_to_markdown.ConversionOptions(base_url=base_url, extract_metadata=False)
        return str(html_to_markdown.convert(html, opts).content)

    def t_default(p: Page) -> str:
        return trafilatura.extract(p.html, url=p.url) or ""

    def t_recall(p: Page) -> str:
        return trafilatura.extract(p.html, url=p.url, favor_recall=True) or ""

    def t_md(p: Page) -> str:
        return (
            trafilatura.extract(
                p.html, url=p.url, output_format="markdown", include_links=True, include_formatting=True
            )
            or ""
        )

    def t_html_h2m(p: Page) -> str:
        main = trafilatura.extract(p.html, url=p.url, output_format="html", include_links=True, include_formatting=True)
        return h2m(main, p.url) if main else ""

    def resili(p: Page) -> str:
        return str(extract_plain_text(HTMLTree.parse(p.html), main_content=True))

    def resili_h2m(p: Page) -> str:
        mini = extract_plain_text(
            HTMLTree.parse(p.html), main_content=True, preserve_formatting="minimal_html", links=True
        )
        return h2m(str(mini), p.url)

    def rdb(p: Page) -> str:
        return html_to_text(readability.Document(p.html).summary(html_partial=True))

    def rdb_h2m(p: Page) -> str:
        return h2m(readability.Document(p.html).summary(html_partial=True), p.url)

    def just(p: Page) -> str:
        lang = JUSTEXT_LANGS.get(page_lang(p.html), "English")
        paras = justext.justext(p.html.encode("utf-8"), justext.get_stoplist(lang))
        return "\n".join(x.text for x in paras if not x.is_boilerplate)

    def insc(p: Page) -> str:
        return str(get_text(p.html))

    def h2m_page(p: Page) -> str:
        return h2m(p.html, p.url)

    def mdify(p: Page) -> str:
        return str(markdownify.markdownify(p.html, heading_style="ATX", code_language=""))

    def semantic_region(p: Page) -> Any:
        from selectolax.lexbor import LexborHTMLParser

        tree = LexborHTMLParser(p.html)
        for sel in ("main", '[role="main"]', "article"):
            found = tree.css(sel)
            if len(found) == 1:
                return found[0]
        return None

    def region_h2m(node: Any, p: Page) -> str:
        for a in node.css("pre a"):
            a.unwrap()
        for div in node.css('div[class*="highlight-"]'):
            m = re.search(r"highlight-([a-z0-9+#-]+)", div.attributes.get("class") or "")
            pre = div.css_first("pre")
            if m and pre is not None and m.group(1) not in ("default", "none", "text"):
                pre.attrs["class"] = "language-" + m.group(1)
        return h2m(node.html or "", p.url)

    def semantic_h2m(p: Page) -> str:
        """Hand-written sketch: convert a page's single <main>/[role=main]/<article> subtree of the
        selectolax tree with html-to-markdown (links inside <pre> unwrapped, Sphinx's
        highlight-LANG passed on as the fence language); no such single region: readability+h2m."""
        node = semantic_region(p)
        return region_h2m(node, p) if node is not None else rdb_h2m(p)

    def hybrid_h2m(p: Page) -> str:
        """readability-lxml picks the main content; where its cleaned summary lost <pre> or <table>
        elements that the page's single semantic region has, that region is converted instead."""
        summary = readability.Document(p.html).summary(html_partial=True)
        node = semantic_region(p)
        if node is not None:
            lost = any(len(node.css(t)) > summary.count("<" + t) for t in ("pre", "table"))
            if lost:
                return region_h2m(node, p)
        return h2m(summary, p.url)

    extractors = [
        Extractor("semantic+h2m", semantic_h2m, True, True, "selectolax tree (ours); h2m re-parses the region's HTML"),
        Extractor(
            "hybrid(readability|semantic)+h2m",
            hybrid_h2m,
            True,
            True,
            "lxml for readability + selectolax region; h2m re-parses",
        ),
        Extractor("trafilatura", t_default, False, True, "lxml (accepts an lxml tree, not selectolax)"),
        Extractor("trafilatura-recall", t_recall, False, True, "lxml"),
        Extractor("trafilatura-md", t_md, True, True, "lxml"),
        Extractor("trafilatura-html+h2m", t_html_h2m, True, True, "lxml, then h2m re-parses its HTML"),
        Extractor("resiliparse", resili, False, True, "own lexbor binding (HTMLTree), not selectolax's"),
        Extractor("resiliparse-minhtml+h2m", resili_h2m, True, True, "lexbor, then h2m re-parses"),
        Extractor("readability-lxml", rdb, False, True, "lxml (own parse of the string)"),
        Extractor("readability+h2m", rdb_h2m, True, True, "lxml, then h2m re-parses"),
        Extractor("justext", just, False, True, "lxml (own parse of bytes)"),
        Extractor("inscriptis", insc, False, False, "lxml (accepts an lxml tree)"),
        Extractor("html-to-markdown", h2m_page, True, False, "own Rust parser (html5ever); string in"),
        Extractor("markdownify", mdify, True, False, "BeautifulSoup (accepts a soup)"),
    ]
    with contextlib.suppress(ImportError):
        from newspaper import Article

        def news(p: Page) -> str:
            a = Article(p.url, fetch_images=False, memoize_articles=False)
            a.download(input_html=p.html)
            a.parse()
            return str(a.text)

        extractors.append(Extractor("newspaper4k", news, False, True, "lxml (own parse)"))
    return extractors


def selectolax_parse(p: Page) -> str:
    """Reference cost: the parse our parser process already does."""
    from selectolax.lexbor import LexborHTMLParser

    LexborHTMLParser(p.html)
    return ""


# ---------------------------------------------------------------------------------------------
# Running and scoring


class PageTimeout(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise PageTimeout


@dataclass
class Run:
    outputs: list[str] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    errors: int = 0


def run_one(fn: Callable[[Page], str], pages: list[Page]) -> Run:
    signal.signal(signal.SIGALRM, _alarm)
    if pages:  # warm-up: lazy imports, caches, compiled regexes
        with contextlib.suppress(Exception):
            fn(pages[0])
    run = Run()
    for p in pages:
        out = ""
        signal.alarm(PAGE_TIMEOUT_S)
        t0 = time.process_time()
        try:
            out = fn(p) if len(p.html) <= MAX_HTML_BYTES else ""
        except Exception:  # a failing page is scored as empty output
            run.errors += 1
        t1 = time.process_time()
        signal.alarm(0)
        run.outputs.append(out)
        run.cpu_ms.append((t1 - t0) * 1000)
    return run


WORD_RE = re.compile(r"[^\W_]+")
MD_LINK_TARGET = re.compile(r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
MD_AUTOLINK = re.compile(r"<(?:https?|mailto):[^>]*>")
TAG_RE = re.compile(r"</?[a-zA-Z][^>]*>")


def strip_markdown(text: str) -> str:
    """Remove what Markdown adds that is not page text: link targets, autolinks, tags."""
    text = MD_LINK_TARGET.sub("]", text)
    text = MD_AUTOLINK.sub(" ", text)
    return TAG_RE.sub(" ", text)


def words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in WORD_RE.findall(text))


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    p, t = words(strip_markdown(pred)), words(truth)
    overlap = sum((p & t).values())
    np_, nt = sum(p.values()), sum(t.values())
    if np_ == 0 and nt == 0:
        return 1.0, 1.0, 1.0
    prec = overlap / np_ if np_ else 0.0
    rec = overlap / nt if nt else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {"python": sys.version.split()[0]}
    for dist in (
        "trafilatura",
        "resiliparse",
        "readability-lxml",
        "html-to-markdown",
        "markdownify",
        "justext",
        "inscriptis",
        "newspaper4k",
        "lxml",
        "selectolax",
        "beautifulsoup4",
    ):
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            out[dist] = "not installed"
    return out


def pick(extractors: list[Extractor], only: str | None) -> list[Extractor]:
    if not only:
        return extractors
    wanted = set(only.split(","))
    return [e for e in extractors if e.name in wanted]


def cmd_quality(args: argparse.Namespace) -> dict[str, Any]:
    datasets = {
        "readability": load_readability(args.limit),
        "scrapinghub": load_scrapinghub(args.limit),
    }
    result: dict[str, Any] = {
        "datasets": {
            "readability": {
                "repo": "mozilla/readability",
                "commit": git_head(READABILITY_REPO),
                "pages": len(datasets["readability"]),
            },
            "scrapinghub": {
                "repo": "scrapinghub/article-extraction-benchmark",
                "commit": git_head(SCRAPINGHUB_REPO),
                "pages": len(datasets["scrapinghub"]),
            },
            "bevendorff": {
                "repo": "chatnoir-eu/web-content-extraction-benchmark",
                "commit": git_head(BEVENDORFF_REPO),
                "status": bevendorff_status(),
            },
        },
        "extractors": {},
    }
    for ex in pick(make_extractors(), args.only):
        row: dict[str, Any] = {}
        for ds, pages in datasets.items():
            run = run_one(ex.run, pages)
            scores = [prf(o, p.truth) for o, p in zip(run.outputs, pages, strict=True)]
            f1s = [s[2] for s in scores]
            row[ds] = {
                "f1_mean": statistics.mean(f1s),
                "f1_median": statistics.median(f1s),
                "p_mean": statistics.mean(s[0] for s in scores),
                "r_mean": statistics.mean(s[1] for s in scores),
                "ge_095": sum(f >= 0.95 for f in f1s),
                "errors": run.errors,
                "empty": sum(not o.strip() for o in run.outputs),
                "cpu_ms_mean": statistics.mean(run.cpu_ms),
                "cpu_ms_p95": p95(run.cpu_ms),
                "per_page_f1": {p.name: round(f, 4) for p, f in zip(pages, f1s, strict=True)},
            }
            print(
                f"{ex.name:26} {ds:12} F1 mean {row[ds]['f1_mean']:.3f} median "
                f"{row[ds]['f1_median']:.3f}  P {row[ds]['p_mean']:.3f} R {row[ds]['r_mean']:.3f}  "
                f"cpu {row[ds]['cpu_ms_mean']:.1f} ms (p95 {row[ds]['cpu_ms_p95']:.1f})  "
                f"err {run.errors}",
                flush=True,
            )
        result["extractors"][ex.name] = row
    return result


def cmd_cost(args: argparse.Namespace) -> dict[str, Any]:
    pages = load_docs(args.pages)
    exs = [Extractor("selectolax-parse-only", selectolax_parse, False, False, "reference")]
    exs += pick(make_extractors(), args.only)
    result: dict[str, Any] = {
        "pages": len(pages),
        "sites": dict(Counter(p.dataset for p in pages)),
        "bytes_mean": statistics.mean(len(p.html) for p in pages),
        "extractors": {},
    }
    for ex in exs:
        run = run_one(ex.run, pages)
        result["extractors"][ex.name] = {
            "cpu_ms_mean": statistics.mean(run.cpu_ms),
            "cpu_ms_p95": p95(run.cpu_ms),
            "cpu_ms_max": max(run.cpu_ms),
            "errors": run.errors,
            "tree": ex.tree,
            "empty": sum(not o.strip() for o in run.outputs),
        }
        r = result["extractors"][ex.name]
        print(
            f"{ex.name:26} cpu {r['cpu_ms_mean']:.1f} ms p95 {r['cpu_ms_p95']:.1f} max "
            f"{r['cpu_ms_max']:.0f}  err {run.errors} empty {r['empty']}",
            flush=True,
        )
    return result


# --- fidelity ---------------------------------------------------------------------------------

FENCE_OPEN = re.compile(r"^( *)(`{3,}|~{3,})(.*)$")


def fenced_blocks(md: str) -> Iterator[tuple[str, str]]:
    """(info string, content) of each fenced code block; content dedented by the fence's indent."""
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        m = FENCE_OPEN.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
        body: list[str] = []
        i += 1
        while i < len(lines):
            stripped = lines[i].lstrip(" ")
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[i]
            cut = min(indent, len(line) - len(line.lstrip(" ")))
            body.append(line[cut:])
            i += 1
        i += 1
        yield info, "\n".join(body)


def main_region(html: str) -> Any:
    root = lxml.html.fromstring(html)
    found = root.xpath('//div[@role="main"] | //main | //div[@class="body"]')
    return found[0] if found else root


def cell_tokens(text: str) -> tuple[str, ...]:
    return tuple(w.lower() for w in WORD_RE.findall(text))


def md_table_rows(md: str) -> set[tuple[tuple[str, ...], ...]]:
    rows: set[tuple[tuple[str, ...], ...]] = set()
    for line in md.split("\n"):
        s = line.strip()
        if not s.startswith("|"):
            continue
        cells = re.split(r"(?<!\\)\|", strip_markdown(s).strip("|"))
        key = tuple(t for t in (cell_tokens(c) for c in cells) if t)
        if key:
            rows.add(key)
    return rows


@dataclass
class Fidelity:
    pages: int = 0
    pages_pre_ok: int = 0
    pre_total: int = 0
    pre_ok: int = 0
    pre_ok_ws: int = 0  # same text up to whitespace
    fences_with_lang: int = 0
    pages_with_tables: int = 0
    pages_tables_ok: int = 0
    tables_total: int = 0
    tables_ok: int = 0
    failures: list[str] = field(default_factory=list)


def check_fidelity(page: Page, md: str, fid: Fidelity) -> None:
    region = main_region(page.html)
    # HTML drops one newline right after <pre>; libxml2 keeps it, so drop it here.
    pres = [pre.text_content().removeprefix("\n").rstrip("\n") for pre in region.iter("pre")]
    blocks = list(fenced_blocks(md))
    fid.fences_with_lang += sum(1 for info, _ in blocks if info)
    have = Counter(b.rstrip("\n") for _, b in blocks)
    have_ws = Counter(" ".join(b.split()) for _, b in blocks)
    ok = 0
    for text in pres:
        if have[text] > 0:
            have[text] -= 1
            ok += 1
        ws = " ".join(text.split())
        if have_ws[ws] > 0:
            have_ws[ws] -= 1
            fid.pre_ok_ws += 1
    fid.pages += 1
    fid.pre_total += len(pres)
    fid.pre_ok += ok
    if ok == len(pres):
        fid.pages_pre_ok += 1
    elif len(fid.failures) < 5:
        fid.failures.append(f"{page.name}: {ok}/{len(pres)} pre")
    tables = list(region.iter("table"))
    if not tables:
        return
    fid.pages_with_tables += 1
    md_rows = md_table_rows(md)
    page_ok = True
    for table in tables:
        fid.tables_total += 1
        good = True
        for tr in table.iter("tr"):
            key = tuple(t for t in (cell_tokens(c.text_content()) for c in tr if c.tag in ("td", "th")) if t)
            if key and key not in md_rows:
                good = False
                break
        fid.tables_ok += good
        page_ok &= good
    fid.pages_tables_ok += page_ok
    if not page_ok and len(fid.failures) < 10:
        fid.failures.append(f"{page.name}: table rows missing")


def cmd_fidelity(args: argparse.Namespace) -> dict[str, Any]:
    pages = load_python_fidelity(args.pages)
    result: dict[str, Any] = {"pages": [p.name for p in pages], "extractors": {}}
    for ex in pick(make_extractors(), args.only):
        if not ex.markdown:
            continue
        run = run_one(ex.run, pages)
        fid = Fidelity()
        for p, md in zip(pages, run.outputs, strict=True):
            check_fidelity(p, md, fid)
        result["extractors"][ex.name] = fid.__dict__ | {
            "errors": run.errors,
            "cpu_ms_mean": statistics.mean(run.cpu_ms),
        }
        print(
            f"{ex.name:26} pre pages {fid.pages_pre_ok}/{fid.pages} blocks {fid.pre_ok}/"
            f"{fid.pre_total} (ws-equal {fid.pre_ok_ws}) lang {fid.fences_with_lang}  tables "
            f"pages {fid.pages_tables_ok}/{fid.pages_with_tables} tables {fid.tables_ok}/"
            f"{fid.tables_total}  err {run.errors}",
            flush=True,
        )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality", help="F1 against ground truth + CPU cost on those pages")
    q.add_argument("--limit", type=int, default=None, help="at most N pages per dataset")
    c = sub.add_parser("cost", help="CPU ms per page on the local docs corpus")
    c.add_argument("--pages", type=int, default=300)
    f = sub.add_parser("fidelity", help="<pre> and table fidelity of Markdown on Python docs pages")
    f.add_argument("--pages", type=int, default=30)
    for s in (q, c, f):
        s.add_argument("--only", help="comma-separated extractor names")
        s.add_argument("--json", type=Path, help="write the full result here")
    args = ap.parse_args(argv)
    t0 = time.process_time()
    result = {"quality": cmd_quality, "cost": cmd_cost, "fidelity": cmd_fidelity}[args.cmd](args)
    result["versions"] = versions()
    result["total_cpu_s"] = time.process_time() - t0
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
