"""An identity's cookie jar (crawler/net/cookies.py): what a browser would send back, as plain data."""

from __future__ import annotations

import json
import time

from yarl import URL

from crawler.net.cookies import MAX_COOKIES, Jar


def sent(jar: Jar, url: str, extra: dict[str, str] | None = None) -> str | None:
    return jar.header(URL(url), extra)


def test_host_only_domain_path_and_secure_scopes():
    jar = Jar()
    jar.update(
        URL("http://shop.example.org/cart/view"),
        [
            "host=1",  # this host, the default path /cart
            "wide=2; Domain=.example.org; Path=/",
            "deep=3; Path=/cart/items",
            "tls=4; Path=/; Secure",
            "other=5; Domain=elsewhere.org",  # for another site: ignored
        ],
    )
    assert sent(jar, "http://shop.example.org/cart/x") == "host=1; wide=2"
    assert sent(jar, "http://shop.example.org/cart/items/1") == "deep=3; host=1; wide=2"  # longest path first
    assert sent(jar, "https://shop.example.org/") == "wide=2; tls=4"
    assert sent(jar, "http://sub.shop.example.org/cart/") == "wide=2"  # host-only stays on its host
    assert sent(jar, "http://example.org/cartoon") == "wide=2"  # /cart does not cover /cartoon
    assert sent(jar, "http://elsewhere.org/") is None


def test_extra_cookies_win_and_ip_hosts_keep_cookies():
    jar = Jar()
    jar.update(URL("http://127.0.0.1:8080/"), ["sid=abc", "lang=en"])
    assert sent(jar, "http://127.0.0.1:8080/a", {"lang": "fr", "job": "1"}) == "sid=abc; lang=fr; job=1"
    jar.update(URL("http://127.0.0.1:8080/"), ["x=1; Domain=0.0.1"])  # no domain cookies on an address
    assert "x=1" not in (sent(jar, "http://127.0.0.1:8080/") or "")


def test_expiry_deletion_and_what_counts_as_a_change():
    jar = Jar()
    url = URL("http://a.test/")
    jar.update(url, ["sid=1", "gone=x; Max-Age=0", "old=y; Expires=Wed, 21-Oct-2015 07:28:00 GMT"])
    assert sent(jar, "http://a.test/") == "sid=1" and jar.changes == 1
    jar.update(url, ["sid=1"])  # the same again: nothing to save
    assert jar.changes == 1
    jar.update(url, ["sid=2; Max-Age=3600"])
    assert jar.changes == 2 and sent(jar, "http://a.test/") == "sid=2"
    jar.update(url, ["sid=; Max-Age=0"])  # the site deletes it
    assert sent(jar, "http://a.test/") is None and jar.changes == 3 and len(jar) == 0
    jar.update(url, ["novalue", "=nameless", "x" * 5000 + "=1"])  # malformed: ignored
    assert len(jar) == 0 and jar.changes == 3


def test_the_jar_is_plain_data_that_round_trips():
    jar = Jar()
    jar.update(URL("https://a.test/x/y"), ["sid=1; Secure; HttpOnly", "pref=2; Domain=a.test; Max-Age=600"])
    data = json.loads(json.dumps(jar.data()))
    again = Jar(data)
    for url in ("https://a.test/x/z", "http://b.a.test/", "https://a.test/"):
        assert sent(again, url) == sent(jar, url)
    (pref,) = [c for c in data if c[0] == "pref"]
    assert pref[6] > time.time() + 500  # an absolute deadline, not a Max-Age that restarts on load


def test_a_jar_is_bounded():
    jar = Jar()
    jar.update(URL("http://a.test/"), [f"c{i}=v" for i in range(MAX_COOKIES + 50)])
    assert len(jar) == MAX_COOKIES
    assert "c0=" not in (sent(jar, "http://a.test/") or "")  # the oldest went first
