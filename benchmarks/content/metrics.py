"""Word-level scores: bag-of-words precision / recall / F1 against ground truth, and p95 of costs."""

from __future__ import annotations

import re
from collections import Counter

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
    """Lower-cased word counts: order and layout do not count, only the words kept or lost."""
    return Counter(w.lower() for w in WORD_RE.findall(text))


def prf(pred: str, truth: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of pred's words against truth's (Markdown syntax stripped first)."""
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
    """Nearest-rank 95th percentile: the slow pages a crawler would notice."""
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]
