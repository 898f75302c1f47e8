"""The crawl's shared vocabulary: requests, leases, visits, records, answers, errors and URLs.

Every package may import ``crawler.core``; ``crawler.core`` imports nothing else of ours (checked
by the import rules in ``pyproject.toml``), so a type lives here once and no stage reaches into a
sibling for it.
"""
