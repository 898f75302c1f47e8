"""Content from the user's side: Markdown asked for and taken as is (``prefer_markdown``), the
hooks (``page.markdown``, ``page.main_text``, ``page.metadata``, ``on_content``), the Python API,
the CLI flags and their errors."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from crawler import Job, Page, crawl
from crawler.engine import Crawl
from crawler.hooks import Hooks
from tests.helpers.cli import run_cli
from tests.test_content import read_lines, serve

GUIDE_MD = """# Install guide

Run the installer, then read the [next steps](/guide/next) and the [FAQ](faq.md).

```sh
./install --prefix /opt/tool
```

| option | meaning |
|---|---|
| `--prefix` | where it goes |
"""


async def markdown_site(site: Any) -> None:
    """A docs site that answers in Markdown to those who ask for it first, HTML to the others."""

    async def guide(request: web.Request) -> web.Response:
        if request.headers.get("Accept", "").startswith("text/markdown"):
            return web.Response(text=GUIDE_MD, content_type="text/markdown")
        return web.Response(text="<html><body><p>HTML edition</p></body></html>", content_type="text/html")

    site.route("md.test", "/guide/", guide)
    serve(
        site,
        "md.test",
        {"/guide/next": "<html><head><title>Next</title></head><body><main><p>Then.</p></main></body></html>"},
    )


async def test_a_markdown_answer_is_taken_as_is_and_its_links_followed(site, tmp_path):
    await markdown_site(site)
    out = tmp_path / "out"
    await Crawl(
        Job(
            start_urls=[site.url("md.test", "/guide/")],
            resolve=site.pin("md.test"),
            output=out,
            content=["markdown"],
            prefer_markdown=True,
        )
    ).run()
    asked = [h.get("Accept") for h in site.headers]
    assert asked and all(a.startswith("text/markdown, text/html;q=0.9") for a in asked if a)
    lines = {line["url"]: line for line in read_lines(out / "content.jsonl")}
    guide = lines[site.url("md.test", "/guide/")]
    assert guide["markdown"] == GUIDE_MD
    assert guide["title"] == "Install guide"
    records = {r["url"]: r for r in read_lines(out / "records.jsonl")}
    assert records[site.url("md.test", "/guide/next")]["status"] == 200  # a Markdown link, followed
    assert records[site.url("md.test", "/guide/faq.md")]["status"] == 404  # relative to the page
    assert records[site.url("md.test", "/guide/")]["title"] == "Install guide"


async def test_without_prefer_markdown_the_html_edition_is_fetched(site, tmp_path):
    await markdown_site(site)
    out = tmp_path / "out"
    await Crawl(
        Job(start_urls=[site.url("md.test", "/guide/")], resolve=site.pin("md.test"), output=out, content=["text"])
    ).run()
    (line,) = read_lines(out / "content.jsonl")
    assert line["text"] == "HTML edition"


def test_a_hook_reads_the_pages_markdown_text_and_metadata():
    html = (
        '<html lang="en"><head><title>Tea</title><link rel="canonical" href="/tea">'
        '<meta name="author" content="Ada"></head><body><nav><a href="/">Home</a> <a href="/shop">Shop</a></nav>'
        '<article><h1>Green tea</h1><p>Steep it for <a href="/time">two minutes</a>.</p></article></body></html>'
    )
    page = Page.from_html("https://shop.example/teas/green", html)
    assert page.markdown == "# Green tea\n\nSteep it for [two minutes](https://shop.example/time).\n"
    assert page.main_text == "Green tea\n\nSteep it for two minutes."
    assert page.metadata["author"] == "Ada"
    assert page.metadata["canonical"] == "https://shop.example/tea"
    assert page.metadata["language"] == "en"
    assert page.css_first("nav") is not None  # the hook's tree still has what the content left out


async def test_hooks_and_the_python_api_see_the_content(site, tmp_path):
    """``crawl(..., parse=..., on_content=...)``: the parse hook's items carry page.markdown, and
    on_content gets each content line as written."""
    serve(
        site,
        "api.test",
        {
            "/": "<html><head><title>Home</title></head><body><main><h1>Welcome</h1><p>Hello there.</p></main></body></html>"
        },
    )
    seen: list[dict[str, Any]] = []

    def parse(page: Page) -> Any:
        yield {"heading": page.markdown.splitlines()[0], "title": page.metadata["title"]}

    stats = await asyncio.to_thread(  # the script's crawl() runs its own event loop; the site runs on this one
        crawl,
        {
            "start_urls": [site.url("api.test", "/")],
            "resolve": site.pin("api.test"),
            "output": str(tmp_path / "out"),
            "content": "markdown",
        },
        parse=parse,
        on_content=seen.append,
    )
    assert stats.content_pages == 1
    assert [s["markdown"] for s in seen] == ["# Welcome\n\nHello there.\n"]
    (item,) = read_lines(tmp_path / "out" / "items.jsonl")
    assert item["heading"] == "# Welcome" and item["title"] == "Home"


async def test_the_cli_flags(site, tmp_path):
    serve(site, "cli.test", {"/": "<html><body><main><h1>Hi</h1><p>One two three.</p></main></body></html>"})
    out = tmp_path / "out"
    code, _, err = await run_cli(
        "crawl",
        site.url("cli.test", "/"),
        "--resolve",
        site.pin("cli.test")[0],
        "-o",
        str(out),
        "--content",
        "markdown,text",
        "--chunks",
        "100:10",
        "--whole-page",
        "-q",
    )
    assert code == 0, err
    (line,) = read_lines(out / "content.jsonl")
    assert line["markdown"].startswith("# Hi") and line["text"].startswith("Hi")
    (chunk,) = read_lines(out / "chunks.jsonl")
    assert chunk["headings"] == ["Hi"]


async def test_bad_content_settings_are_one_line(tmp_path):
    cases = [
        (["--content", "html"], "--content"),
        (["--chunks", "many"], "'many' is not WORDS or WORDS:OVERLAP"),
        (["--content", "markdown", "--chunks", "100:100"], "overlap (100) must be smaller than words (100)"),
        (["--content", "text", "--chunks", "100"], "chunks are cut from the Markdown: needs content: markdown"),
        (["--on-content", "json:dumps"], "on_content needs content: markdown or text (--content)"),
        (["--whole-page"], "main_content needs content"),
        (["--near-duplicates", "drop"], "--near-duplicates"),
    ]
    for flags, message in cases:
        code, _, err = await run_cli("crawl", "http://127.0.0.1:9/", "-o", str(tmp_path / "o"), *flags)
        assert code == 2, (flags, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, (flags, err)


async def test_a_yaml_job_with_content(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(
        "start_urls: [http://127.0.0.1:9/]\ncontent: [markdown, text]\nchunks: {words: 300, overlap: 30}\n"
        "near_duplicates: skip\nmain_content: false\nprefer_markdown: true\n"
    )
    code, _, err = await run_cli("check", str(job))
    assert code == 0, err
    parsed = Job.model_validate(
        {"start_urls": ["http://127.0.0.1:9/"], "content": "markdown", "chunks": 300, "on_content": "json:dumps"}
    )
    assert parsed.chunks is not None and (parsed.chunks.words, parsed.chunks.overlap) == (300, 50)
    assert Hooks.from_paths(parsed.hook_paths).on_content is json.dumps


def test_script_links_and_data_images_do_not_reach_the_markdown():
    html = (
        '<html><body><article><h1>Offer</h1><p>Read <a href="javascript:alert(1)">the terms</a> and '
        '<a href=" JavaScript:void(0)">more</a>, <a href="\x01java&#9;scr&#10;ipt:void(0)">this</a>, '
        'or <a href="/terms">the real terms</a>.</p>'
        '<p><img src="data:image/svg+xml;base64,PHN2Zz4=" alt="badge"><img src="/logo.png" alt="logo"></p>'
        "</article></body></html>"
    )
    markdown = Page.from_html("https://shop.example/offer", html).markdown
    assert "script" not in markdown.lower() and "data:" not in markdown
    assert "Read the terms and more, this, or [the real terms](https://shop.example/terms)." in markdown
    assert "![logo](https://shop.example/logo.png)" in markdown
