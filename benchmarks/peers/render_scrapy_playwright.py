"""The peer for benchmarks/scenarios/render.py: the same JavaScript pages crawled by Scrapy with
scrapy-playwright, in Debian's Chromium, 4 pages at once, images/fonts/media not loaded, each page
done once its ``h1`` exists. Runs in the peers' venv (scrapy, scrapy-playwright, playwright).

Usage: python render_scrapy_playwright.py OUTFILE START_URL
"""

import sys

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy_playwright.page import PageMethod

OUT, START = sys.argv[1], sys.argv[2]
HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"


class Spider(scrapy.Spider):
    name = "render"

    async def start(self):  # type: ignore[no-untyped-def]
        yield self.page(START)

    def page(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            url, meta={"playwright": True, "playwright_page_methods": [PageMethod("wait_for_selector", "h1")]}
        )

    def parse(self, response):  # type: ignore[no-untyped-def]
        yield {"url": response.url, "status": response.status, "title": response.css("h1::text").get()}
        for href in response.css("a::attr(href)").getall():
            yield self.page(response.urljoin(href))


process = CrawlerProcess(
    settings={
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": "/usr/lib/chromium/chromium",
            "args": ["--no-sandbox", "--disable-dev-shm-usage"],
        },
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
        "PLAYWRIGHT_ABORT_REQUEST": lambda req: req.resource_type in ("image", "font", "media"),
        "CONCURRENT_REQUESTS": 4,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 4,
        "DOWNLOAD_DELAY": 0,
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "FEEDS": {OUT: {"format": "jsonlines", "overwrite": True}},
    }
)
process.crawl(Spider)
process.start()
