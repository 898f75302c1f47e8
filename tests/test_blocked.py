"""``blocked_when`` as rules: the defaults against realistic challenge pages of each vendor
(``tests/fixtures/blocked``) and against ordinary pages that look a little like them, each rule
type of a job's own, and bad rules refused in one line. A page is judged as a crawl judges it: the
head by the fetcher's check, an error page's body by the fetcher's, a 2xx page by the real reader."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from multidict import CIMultiDict, CIMultiDictProxy

from crawler.cli import main
from crawler.config import Job
from crawler.core.blocked import BlockRules
from crawler.parsing.page import Fetched
from crawler.parsing.reader import PageReader
from crawler.settings import blocked_rules, reader_settings

PAGES = Path(__file__).parent / "fixtures" / "blocked"
URL = "http://shop.test/products/"


def verdict(job: Job, status: int, headers: dict[str, str], body: bytes) -> str | None:
    """Why the crawl of ``job`` calls this answer blocked (None: it does not)."""
    rules = blocked_rules(job)
    head = CIMultiDictProxy(CIMultiDict(headers))
    why = rules.head(status, head)
    if why is not None or not 200 <= status < 300:
        return why or rules.body(status, head, body)
    reader = PageReader(reader_settings(job))
    sent = tuple(headers.items()) if reader.reads_headers else ()
    return reader.read(Fetched(URL, body, "text/html", status=status, headers=sent)).blocked


def defaults(status: int, headers: dict[str, str], page: str | bytes) -> str | None:
    body = page if isinstance(page, bytes) else (PAGES / page).read_bytes()
    return verdict(Job(start_urls=[URL]), status, headers, body)


CF = {"Server": "cloudflare", "CF-RAY": "8a1b2c3d4e5f6a7b-FRA"}

CHALLENGES = [  # (status, headers, page, the vendor the reason names)
    (403, {**CF, "cf-mitigated": "challenge"}, "cloudflare-challenge.html", "Cloudflare challenge"),
    (503, CF, "cloudflare-challenge.html", "Cloudflare challenge"),  # an older edge: no cf-mitigated
    (200, {}, "cloudflare-challenge.html", "Cloudflare challenge"),  # a 200 with the challenge's title
    (403, CF, "cloudflare-block.html", "Cloudflare challenge"),
    (200, {}, "cloudflare-block.html", "Cloudflare challenge"),
    (403, {"Server": "AkamaiGHost"}, "akamai-denied.html", "Akamai"),
    (403, {"X-DataDome": "protected", "X-DD-B": "1"}, "datadome-captcha.html", "DataDome"),
    (403, {}, "datadome-captcha.html", "DataDome"),  # no header: captcha-delivery.com in the page
    (403, {}, "perimeterx-block.html", "PerimeterX"),
    (200, {"X-CDN": "Imperva"}, "incapsula-incident.html", "Imperva"),
    (403, {}, "incapsula-incident.html", "Imperva"),
    (403, {"Server": "Sucuri/Cloudproxy"}, "sucuri-denied.html", "Sucuri"),
    (200, {}, b"<title>Access Denied - Sucuri Website Firewall</title><h1>Access Denied</h1>", "Sucuri"),
    (202, {"x-amzn-waf-action": "challenge"}, b"", "AWS WAF"),
    (405, {"X-Amzn-Waf-Action": "captcha"}, b"<html><body>captcha</body></html>", "AWS WAF"),
]

ORDINARY = [  # (status, headers, page): pages, or errors of the site's own, that are not blocked
    (200, CF, "ordinary-contact-recaptcha.html"),  # reCAPTCHA and Turnstile on a contact form
    (200, {}, "ordinary-access-denied-prose.html"),  # an article naming every vendor's markers
    (200, {"X-CDN": "Imperva"}, "ordinary-incapsula-site.html"),  # Imperva's script on a normal page
    (403, CF, "ordinary-forbidden-behind-cloudflare.html"),  # the site's own 403, through Cloudflare
    (404, CF, "ordinary-forbidden-behind-cloudflare.html"),
    (503, CF, b"<title>Down for maintenance</title><p>Back at noon. Just a moment...</p>"),
    (403, {"Server": "AkamaiGHost"}, b"<title>Access Denied</title><h1>Access Denied</h1><p>Members only.</p>"),
    (200, {"X-DataDome": "protected"}, "ordinary-contact-recaptcha.html"),  # DataDome lets it through
    (200, {"x-amzn-waf-action": "allow"}, b"<title>Shop</title>"),
]


@pytest.mark.parametrize("status, headers, page, vendor", CHALLENGES, ids=[f"{c[0]}-{c[2]!s:.30}" for c in CHALLENGES])
def test_the_defaults_catch_each_vendors_challenge_page(status, headers, page, vendor):
    why = defaults(status, headers, page)
    assert why is not None and why.startswith(f"{vendor}: "), why


@pytest.mark.parametrize("status, headers, page", ORDINARY, ids=[f"{o[0]}-{o[2]!s:.30}" for o in ORDINARY])
def test_the_defaults_leave_ordinary_pages_alone(status, headers, page):
    assert defaults(status, headers, page) is None


def test_the_defaults_can_be_turned_off():
    job = Job(start_urls=[URL], blocked_defaults=False)
    assert (
        verdict(job, 403, {**CF, "cf-mitigated": "challenge"}, (PAGES / "cloudflare-challenge.html").read_bytes())
        is None
    )


def own(rule: dict, **more) -> Job:
    return Job(start_urls=[URL], blocked_when=[rule], blocked_defaults=False, **more)


WALL = b"<title>Verify you are human</title><form id=challenge-form><input name=t></form><p>Ray 42</p>"
SHOP = b"<title>Shoes</title><form id=search></form><p>Ray 7</p>"
OWN = [  # (a rule of the job's own, status, headers, body, the reason it gives or None)
    ({"status": [429, 451]}, 451, {}, b"", "blocked_when[0]: status 451"),
    ({"status": [429, 451]}, 403, {}, b"", None),
    ({"header": "x-bot-wall"}, 200, {"X-Bot-Wall": ""}, SHOP, "blocked_when[0]: x-bot-wall"),
    ({"header": "x-bot-wall"}, 200, {}, SHOP, None),
    ({"header": "Server: ^shield"}, 403, {"Server": "Shield/2"}, b"", "blocked_when[0]: server: Shield/2"),
    ({"header": "Server: ^shield"}, 403, {"Server": "nginx shield"}, b"", None),
    ({"title": "^Verify you"}, 200, {}, WALL, "blocked_when[0]: title 'Verify you are human'"),
    ({"title": "^Verify you"}, 200, {}, SHOP, None),
    ({"text": r"Ray \d\d"}, 200, {}, WALL, "blocked_when[0]: text 'Ray 42'"),
    ({"text": r"Ray \d\d"}, 500, {}, WALL, "blocked_when[0]: text 'Ray 42'"),  # an error page's body too
    ({"text": r"Ray \d\d"}, 200, {}, SHOP, None),
    ({"selector": "form#challenge-form", "name": "shield"}, 200, {}, WALL, "shield: selector form#challenge-form"),
    ({"selector": "form#challenge-form"}, 200, {}, SHOP, None),
    ({"selector": "form#challenge-form"}, 503, {}, WALL, None),  # error pages are not parsed
]


@pytest.mark.parametrize("rule, status, headers, body, reason", OWN, ids=[f"{o[0]}-{o[1]}-{o[4]}" for o in OWN])
def test_each_rule_type_of_a_job_and_the_reason_it_gives(rule, status, headers, body, reason):
    assert verdict(own(rule), status, headers, body) == reason


def test_keys_of_one_rule_hold_together_and_rules_stand_alone():
    job = Job(
        start_urls=[URL],
        blocked_when=[{"status": 403, "header": "server: shield"}, {"text": "solve the puzzle"}],
        blocked_defaults=False,
    )
    assert verdict(job, 403, {"Server": "shield"}, b"") == "blocked_when[0]: status 403, server: shield"
    assert verdict(job, 403, {"Server": "nginx"}, b"") is None  # one key of the rule does not hold
    assert verdict(job, 200, {"Server": "shield"}, b"<p>hi</p>") is None
    assert verdict(job, 200, {}, b"<p>solve the puzzle</p>") == "blocked_when[1]: text 'solve the puzzle'"
    assert verdict(job, 500, {}, b"<p>solve the puzzle</p>") == "blocked_when[1]: text 'solve the puzzle'"


def test_a_rule_with_a_header_and_a_selector_gets_the_headers_to_the_parser():
    job = own({"selector": "#wall", "header": "x-wall: on"})
    assert PageReader(reader_settings(job)).reads_headers
    assert not PageReader(reader_settings(Job(start_urls=[URL]))).reads_headers  # the defaults need none
    assert verdict(job, 200, {"X-Wall": "on"}, b"<div id=wall></div>") == "blocked_when[0]: x-wall: on, selector #wall"


def test_the_rules_cross_to_the_parser_process_whole():
    rules = pickle.loads(pickle.dumps(blocked_rules(Job(start_urls=[URL], blocked_when=[{"text": "(?i)wall"}]))))
    assert isinstance(rules, BlockRules)
    assert rules.body(403, CIMultiDictProxy(CIMultiDict()), b"A WALL") == "blocked_when[0]: text 'WALL'"


def test_a_blocked_page_gives_nothing_else_to_the_crawl():
    job = Job(start_urls=[URL], extract=[{"name": "price", "fields": {"price": {"css": "p.price"}}}])
    reader = PageReader(reader_settings(job))
    body = b"<title>Just a moment...</title><p class=price>1</p><a href=/next>next</a>"
    result = reader.read(Fetched(URL, body, "text/html"))
    assert result.blocked and not result.items and not result.links and not result.found


BAD = [  # (a rule, what its one line says)
    ({"text": "("}, "blocked_when.0: text: bad regex '('"),
    ({"title": "*"}, "blocked_when.0: title: bad regex"),
    ({"header": "x: ["}, "blocked_when.0: header: bad regex"),
    ({"header": "no good: x"}, "blocked_when.0: header 'no good: x': expected 'Name' or 'Name: regex'"),
    ({"selector": "div[["}, "blocked_when.0.selector: bad CSS selector"),
    ({}, "blocked_when.0: a rule needs at least one of status, header, title, text, selector"),
    ({"stauts": 403}, "blocked_when.0.stauts: unknown key (did you mean 'status'?)"),
    ({"status": 99999}, "blocked_when.0.status.0: 99999 is not an HTTP status"),
    ({"status": [403], "selector": "form"}, "status [403] never is one"),
    ("text", "blocked_when.0: Input should be a valid dictionary"),
]


@pytest.mark.parametrize("rule, says", BAD, ids=[str(r) for r, _ in BAD])
def test_a_bad_rule_is_one_line_and_exit_2(rule, says, tmp_path, monkeypatch):
    monkeypatch.setattr("crawler.cli.execute", lambda job: pytest.fail("the bad rule was accepted"))
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"start_urls": [URL], "output": str(tmp_path / "o"), "blocked_when": [rule]}))
    result = CliRunner().invoke(main, ["run", str(job)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"error: {job} line ") and says in lines[0], lines
    assert not (tmp_path / "o").exists()
