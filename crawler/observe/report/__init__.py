"""``OUT/report.html``: :mod:`~crawler.observe.report.data` reads a crawl's files into numbers,
:mod:`~crawler.observe.report.html` draws them as one self-contained page."""
