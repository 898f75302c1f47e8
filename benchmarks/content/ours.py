"""The crawler's own pipeline (crawler.content): main_region on the selectolax tree, then
to_markdown / to_text. Each call parses the HTML string, as the other candidates do."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from benchmarks.content.datasets import Page
from crawler.content.markdown import to_markdown, to_text
from crawler.content.region import main_region


def crawler_region(p: Page) -> str:
    """Region choice only (its text, so that quality can be read too): the cost of main_region."""
    return main_region(LexborHTMLParser(p.html)).text()


def crawler_md(p: Page) -> str:
    return to_markdown(main_region(LexborHTMLParser(p.html)), p.url)


def crawler_text(p: Page) -> str:
    return to_text(crawler_md(p))


def crawler_body_md(p: Page) -> str:
    """main_content: false: the whole body through the same converter."""
    tree = LexborHTMLParser(p.html)
    return to_markdown(tree.body or tree.root, p.url) if (tree.body or tree.root) is not None else ""


def breakdown(pages: list[Page]) -> dict[str, dict[str, float]]:
    """CPU ms per page of each step on trees already parsed (the parser process's situation):
    main_region alone, then to_markdown of its region, then to_text; mean and median per site."""
    import statistics
    import time
    from collections import defaultdict

    steps: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for p in pages:
        tree = LexborHTMLParser(p.html)
        t0 = time.process_time()
        region = main_region(tree)
        t1 = time.process_time()
        md = to_markdown(region, p.url)
        t2 = time.process_time()
        to_text(md)
        t3 = time.process_time()
        for site in (p.dataset, "all"):
            steps[site]["region"].append((t1 - t0) * 1000)
            steps[site]["markdown"].append((t2 - t1) * 1000)
            steps[site]["text"].append((t3 - t2) * 1000)
    return {
        f"{site} {step}": {"mean": statistics.mean(xs), "median": statistics.median(xs), "max": max(xs)}
        for site, by_step in steps.items()
        for step, xs in by_step.items()
    }


if __name__ == "__main__":  # python -m benchmarks.content.ours [pages] [json]: the breakdown above
    import json
    import sys

    from benchmarks.content.datasets import load_docs

    result = breakdown(load_docs(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
    for key, row in result.items():
        print(f"{key:24} mean {row['mean']:.2f}  median {row['median']:.2f}  max {row['max']:.1f} ms")
    if len(sys.argv) > 2:
        with open(sys.argv[2], "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
