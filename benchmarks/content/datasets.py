"""The page sets: public ground truth read from bare git mirrors, and docs pages read from disk.

Nothing is downloaded; every set is fixed and deterministic so reruns score the same pages.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from benchmarks.content.htmltext import html_to_text

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


@dataclass(frozen=True)
class Page:
    dataset: str
    name: str
    html: str
    truth: str = ""  # ground-truth main text ("" where there is none)
    url: str = "http://127.0.0.1/page.html"


def git_show(repo: Path, path: str) -> bytes:
    """A file at HEAD of a bare mirror (mirrors have no work tree)."""
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "show", f"HEAD:{path}"],
        check=True,
        capture_output=True,
    )
    return out.stdout


def git_ls(repo: Path, path: str) -> list[str]:
    """Entries of a directory at HEAD of a bare mirror."""
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "ls-tree", "--name-only", "HEAD", path + "/"],
        check=True,
        capture_output=True,
        text=True,
    )
    return [line for line in out.stdout.splitlines() if line]


def git_head(repo: Path) -> str:
    """The commit measured, recorded in the results."""
    out = subprocess.run(
        ["git", "--git-dir", str(repo), "rev-parse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def decode(raw: bytes) -> str:
    """Decode with the charset the page declares (scrapinghub pages are not all UTF-8)."""
    head = raw[:4096].decode("ascii", "replace").lower()
    m = re.search(r"charset=[\"']?([a-z0-9_\-]+)", head)
    enc = m.group(1) if m else "utf-8"
    try:
        return raw.decode(enc, "replace")
    except LookupError:
        return raw.decode("utf-8", "replace")


def load_readability(limit: int | None) -> list[Page]:
    """Mozilla Readability's test pages; truth is the visible text of expected.html."""
    pages: list[Page] = []
    for d in git_ls(READABILITY_REPO, "test/test-pages"):
        src = git_show(READABILITY_REPO, f"{d}/source.html").decode("utf-8", "replace")
        exp = git_show(READABILITY_REPO, f"{d}/expected.html").decode("utf-8", "replace")
        pages.append(Page("readability", d.rsplit("/", 1)[-1], src, html_to_text(exp)))
    return pages[:limit]


def load_scrapinghub(limit: int | None) -> list[Page]:
    """scrapinghub's article-extraction-benchmark; truth is its articleBody."""
    truth = json.loads(git_show(SCRAPINGHUB_REPO, "ground-truth.json"))
    pages: list[Page] = []
    for key in sorted(truth):
        raw = gzip.decompress(git_show(SCRAPINGHUB_REPO, f"html/{key}.html.gz"))
        pages.append(Page("scrapinghub", key[:12], decode(raw), truth[key]["articleBody"]))
    return pages[:limit]


def bevendorff_status() -> str:
    """Why the Bevendorff et al. benchmark is not scored: recorded rather than silently skipped."""
    blob = git_show(BEVENDORFF_REPO, "datasets/combined.tar.xz")
    if blob.startswith(b"version https://git-lfs"):
        return "datasets/combined.tar.xz is a Git LFS pointer; the archive is not in the snapshot"
    return "present"


def evenly(items: list[Path], n: int) -> list[Path]:
    """n items evenly spaced in order: a fixed sample that still spans the whole site."""
    if len(items) <= n:
        return items
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def docs_files(site: str) -> list[Path]:
    """A docs site's HTML pages in sorted order, without Sphinx's _static assets."""
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
