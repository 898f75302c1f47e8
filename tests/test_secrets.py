"""Secrets never reach disk or the terminal: a crawl through a credentialed HTTP proxy and a
credentialed SOCKS proxy, its frontier in a password-protected Redis (password in the URL's
query), WARC on. Every file under OUT (gzip members decompressed) and stdout/stderr are searched
for every secret in every form it travels in: raw, percent-encoded, base64 ``user:password``."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from tests.helpers.cli import run_cli
from tests.helpers.leaks import read_output
from tests.helpers.output import read_records
from tests.helpers.proxy_servers import start_proxy
from tests.helpers.redis_server import RedisServer

HTTP_USER, HTTP_PW = "hal", "h77pPassw0rd"  # tinyproxy's config takes no quoting
SOCKS_USER, SOCKS_PW = "sox", "s0cks:p@ss/w%rd"
REDIS_PW = "r3dis&pass word"


def forms(user: str, password: str) -> set[bytes]:
    """Every form a password takes on the way: as given, percent-encoded, inside Basic auth."""
    return {
        password.encode(),
        quote(password, safe="").encode(),
        quote(password).encode(),
        base64.b64encode(f"{user}:{password}".encode()),
    }


async def test_no_secret_in_any_output_file_or_message(hosts_site, tmp_path):
    for host in ("127.0.0.1", "127.0.0.2"):
        hosts_site.html(host, "/", '<a href="/a">a</a>', title=f"home {host}")
        hosts_site.html(host, "/a", "a page")
    http = await start_proxy("http", "127.0.0.10", tmp_path, user=HTTP_USER, password=HTTP_PW)
    socks = await start_proxy("socks5", "127.0.0.11", tmp_path, user=SOCKS_USER, password=SOCKS_PW)
    redis = RedisServer(tmp_path / "redis", password=REDIS_PW)
    redis.start()
    try:
        out = tmp_path / "out"
        job = {
            "name": "secrets",
            "start_urls": [hosts_site.url(h) for h in ("127.0.0.1", "127.0.0.2")],
            "output": str(out),
            "warc": True,
            "ignore_robots": True,
            "worker_id": "w0",
            "frontier": f"redis://127.0.0.1:{redis.port}/0?password={quote(REDIS_PW, safe='')}",
            "proxy_pools": {"web": [http.url()]},
            "proxy_rules": [{"match": "127.0.0.1", "proxy": "web"}, {"match": "127.0.0.2", "proxy": socks.url()}],
        }
        (tmp_path / "job.yaml").write_text(json.dumps(job))
        code, stdout, stderr = await run_cli("run", str(tmp_path / "job.yaml"))
        assert code == 0, stderr
        records = read_records(out / "shards" / "w0")
        assert {r["proxy"] for r in records} == {http.id, socks.id} and len(records) == 4
        assert all(r["status"] == 200 for r in records), records
        assert "password=***" in stderr  # the summary names the Redis, without its password

        files = [p for p in out.rglob("*") if p.is_file()]
        assert any(p.name == "crawl.warc.gz" for p in files)
        everything = b"".join(read_output(p) for p in files) + stdout.encode() + stderr.encode()
        assert b"Proxy-Authorization" not in everything
        for secret in forms(HTTP_USER, HTTP_PW) | forms(SOCKS_USER, SOCKS_PW) | forms("default", REDIS_PW):
            assert secret not in everything, secret
    finally:
        redis.kill()
        for proxy in (http, socks):
            proxy.kill()
            if proxy.proc:
                await proxy.proc.wait()


def test_settings_objects_keep_headers_cookies_and_the_redis_password_out_of_their_repr(tmp_path):
    """Settings may end up in a traceback or a debug line: the values that carry secrets never
    show in their repr."""
    from crawler import settings
    from crawler.commands.workers import worker_settings
    from crawler.config import Job

    job = Job.model_validate(
        {
            "start_urls": ["http://127.0.0.1:9/"],
            "output": str(tmp_path / "o"),
            "headers": {"Authorization": "Bearer tok-SECRET1"},
            "cookies": {"session": "SECRET2"},
            "frontier": "redis://:SECRET3@127.0.0.1:9/0",
            "render": ["*"],
        }
    )
    shown = repr(settings.fetch_settings(job)) + repr(settings.render_settings(job)) + repr(worker_settings(job))
    assert "SECRET" not in shown
    assert "user_agent=" in shown  # the rest is still there to read
