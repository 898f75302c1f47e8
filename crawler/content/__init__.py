"""Main content, Markdown, metadata, near-duplicates and chunks of HTML pages.

    metadata (``<head>``, JSON-LD) → main region (:mod:`.region`) → Markdown, text (:mod:`.markdown`)
        → SimHash (:mod:`.simhash`), chunks (:mod:`.chunks`)

:func:`~crawler.content.extract.extract_content` runs it on the tree the parser already holds; the
engine checks the SimHash against the job's near-duplicate index and writes ``content.jsonl``.
"""
