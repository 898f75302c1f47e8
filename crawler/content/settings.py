"""What a job asks of a page's content (``ContentSettings``), apart from the modules that make it:
html-to-markdown and the rest load only in crawls (and hooks) that use them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ContentSettings:
    """What a page's content is made of: ``content``, ``main_content``, ``near_duplicates`` and
    ``chunks`` of the job."""

    markdown: bool = True  # which of the two content.jsonl carries (the Markdown is always made)
    text: bool = True
    main_content: bool = True  # False: the whole body, not its main region
    simhash: bool = False  # near-duplicates are looked for
    chunk_words: int | None = None  # None: no chunks
    chunk_overlap: int = 0


HOOK_DEFAULT = ContentSettings()  # what page.markdown gives a hook in a job without ``content``
