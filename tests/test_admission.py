"""Admission, the one gate every URL passes: seeds as given, redirects and sitemap entries
against scope, depth and length, then dedup and the caps in the frontier; the scheduler hears of
each host that got new work."""

from __future__ import annotations

from yarl import URL

from crawler.admission import Admission
from crawler.config import Job
from crawler.core.request import Request
from crawler.core.step import Source
from crawler.core.urls import host_key
from crawler.frontier.memory import MemoryFrontier
from crawler.settings import admission_settings


def req(url: str, depth: int = 0) -> Request:
    return Request(url, host_key(URL(url, encoded=True)), depth)


def gate(**fields: object) -> tuple[Admission, list[str]]:
    woken: list[str] = []
    job = Job.model_validate({"start_urls": ["http://a.test/"], **fields})
    return Admission(admission_settings(job), MemoryFrontier(), woken.append), woken


async def test_redirects_and_sitemap_entries_meet_scope_depth_and_length():
    admission, _ = gate(max_depth=2, max_url_length=40)
    for source in (Source.REDIRECT, Source.SITEMAP):
        offered = [
            req(f"http://a.test/{source}"),
            req(f"http://elsewhere.test/{source}"),
            req(f"http://a.test/{source}/deep", depth=3),
            req(f"http://a.test/{source}/" + "x" * 40),
        ]
        assert [r.url for r in await admission.admit(offered, source)] == [f"http://a.test/{source}"]


async def test_seeds_enter_as_given_and_no_url_enters_twice():
    admission, woken = gate()
    first = await admission.admit([req("http://a.test/"), req("http://b.test/")], Source.SEED)
    assert [r.url for r in first] == ["http://a.test/", "http://b.test/"]
    again = await admission.admit(
        [req("http://a.test/~u"), req("http://a.test/%7eu"), req("http://a.test/")], Source.LINK
    )
    assert [r.url for r in again] == ["http://a.test/~u"]  # one dedup key: the spelling first met is kept
    assert sorted(woken) == ["a.test:80", "a.test:80", "b.test:80"]  # each batch wakes each of its hosts once


async def test_the_caps_count_every_admitted_url():
    admission, _ = gate(max_pages=3, max_pages_per_host=2)
    offered = [req(f"http://{h}.test/{i}") for h in ("a", "b") for i in range(3)]
    admitted = await admission.admit(offered, Source.LINK)
    assert [r.url for r in admitted] == ["http://a.test/0", "http://a.test/1", "http://b.test/0"]
    assert await admission.admit([req("http://c.test/")], Source.LINK) == []
