"""Chunks for retrieval: split at headings and blocks, each with its heading path, consecutive
chunks of a section sharing a few sentences, code blocks and tables whole unless too big alone."""

from __future__ import annotations

import re

import pytest

from crawler.content.chunks import Chunk, chunk


def sentences(label: str, count: int) -> str:
    """A paragraph of numbered 6-word sentences, easy to find again in a chunk."""
    return " ".join(f"{label} sentence {i} says something useful." for i in range(count))


DOC = f"""# Guide

{sentences("intro", 3)}

## Install

{sentences("install", 4)}

```sh
# not a heading: a comment
pip install crawler

crawler --version
```

## Use

{sentences("use", 5)}

### On Linux

{sentences("linux", 4)}

# Reference

{sentences("reference", 2)}
"""


def test_chunks_start_at_headings_with_the_path_of_their_sections() -> None:
    chunks = chunk(DOC, words=60, overlap=0)
    assert [c.headings for c in chunks] == [
        ("Guide",),
        ("Guide", "Install"),
        ("Guide", "Use"),
        ("Guide", "Use", "On Linux"),
        ("Reference",),
    ]
    assert [c.text.splitlines()[0] for c in chunks] == [
        "# Guide",
        "## Install",
        "## Use",
        "### On Linux",
        "# Reference",
    ]
    assert [c.number for c in chunks] == list(range(5))
    assert all(c.words == len(c.text.split()) <= 60 for c in chunks)


def test_a_tiny_introduction_keeps_the_subsection_that_follows() -> None:
    """A chunk of a title and one line would be useless alone; a new top section still starts one."""
    doc = f"# Guide\n\nHello.\n\n## Install\n\n{sentences('install', 3)}\n\n# Reference\n\nSee the API."
    chunks = chunk(doc, words=60, overlap=0)
    assert [c.headings for c in chunks] == [("Guide",), ("Reference",)]
    assert chunks[0].text.startswith("# Guide\n\nHello.\n\n## Install\n\ninstall sentence 0")


def test_consecutive_chunks_of_a_section_share_their_boundary_sentences() -> None:
    doc = f"# Notes\n\n{sentences('a', 10)}\n\n{sentences('b', 10)}\n\n{sentences('c', 10)}"
    chunks = chunk(doc, words=50, overlap=12)
    assert len(chunks) >= 4
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = after.text.split("\n\n")[0]  # whole trailing sentences of the chunk before
        assert before.text.endswith(shared) and shared.endswith("useful.")
        assert 0 < len(shared.split()) <= 12
        assert after.headings == ("Notes",)
    assert all(c.words <= 50 for c in chunks)


def test_without_overlap_every_sentence_is_in_exactly_one_chunk() -> None:
    doc = f"# Notes\n\n{sentences('a', 10)}\n\n{sentences('b', 10)}"
    chunks = chunk(doc, words=50, overlap=0)
    found = [s for c in chunks for s in re.findall(r"\w+ sentence \d+", c.text)]
    assert found == [f"{p} sentence {i}" for p in "ab" for i in range(10)]


def test_no_overlap_crosses_into_a_new_section() -> None:
    doc = f"# One\n\n{sentences('one', 8)}\n\n# Two\n\n{sentences('two', 8)}"
    chunks = chunk(doc, words=40, overlap=10)
    two = [c for c in chunks if c.headings == ("Two",)]
    assert two[0].text.startswith("# Two")
    assert all("one sentence" not in c.text for c in two)


def test_a_code_block_and_a_table_that_fit_are_never_split() -> None:
    table = "| option | meaning |\n|---|---|\n| --fresh | start over |\n| --resume | go on |"
    doc = f"# Setup\n\n{sentences('setup', 5)}\n\n```sh\n# not a heading\npip install crawler\n\ncrawler --version\n```"
    doc += f"\n\n{table}\n\n{sentences('after', 3)}"
    chunks = chunk(doc, words=40, overlap=5)
    code = [c for c in chunks if "pip install crawler" in c.text]
    assert len(code) == 1 and "```sh\n# not a heading\npip install crawler\n\ncrawler --version\n```" in code[0].text
    tables = [c for c in chunks if "| --fresh |" in c.text]
    assert len(tables) == 1 and table in tables[0].text
    assert all(c.headings == ("Setup",) for c in chunks)  # a comment in code is no heading


def test_an_oversized_table_is_split_between_rows_repeating_its_header() -> None:
    header = "| name | value |\n| :--- | ---: |"
    rows = [f"| key{i} | {i} |" for i in range(40)]
    chunks = chunk("# Settings\n\n" + "\n".join([header, *rows]), words=50, overlap=10)
    pieces = [c for c in chunks if "| key" in c.text]
    assert len(pieces) > 1
    for piece in pieces:
        table = piece.text[piece.text.index("| name |") :]
        assert table.startswith(header + "\n| key")
        assert len(table.split()) <= 50  # the first piece also carries the section's heading line
    found = [row for piece in pieces for row in piece.text.splitlines() if row.startswith("| key")]
    assert found == rows


def test_an_oversized_code_block_is_split_between_lines_each_piece_fenced() -> None:
    lines = [f"print('line {i}', {i} * {i})" for i in range(60)]
    chunks = chunk("```python\n" + "\n".join(lines) + "\n```", words=40, overlap=0)
    assert len(chunks) > 1
    for c in chunks:
        assert c.text.startswith("```python\n") and c.text.endswith("\n```")
        assert c.words <= 40
    assert [line for c in chunks for line in c.text.splitlines()[1:-1]] == lines


def test_a_paragraph_bigger_than_a_chunk_is_split_between_sentences() -> None:
    chunks = chunk(sentences("long", 30), words=40, overlap=0)
    assert len(chunks) > 1
    assert all(c.text.startswith("long sentence") and c.text.endswith("useful.") for c in chunks)
    assert " ".join(c.text for c in chunks) == sentences("long", 30)


def test_empty_documents_have_no_chunks() -> None:
    assert chunk("") == chunk("\n\n  \n") == []
    assert chunk("Just a line.") == [Chunk(0, (), "Just a line.", 3)]


@pytest.mark.parametrize(("words", "overlap"), [(0, 0), (-5, 0), (10, -1), (10, 10), (10, 11)])
def test_bad_sizes_are_refused(words: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="words"):
        chunk("# A\n\ntext", words=words, overlap=overlap)
