"""Bad values are refused at start, whether a flag or a YAML key gave them: exit code 2, one line
that names the setting, no traceback. Each of these once crashed later (a 58-line traceback for
``--metrics 127.0.0.1:99999``), hung (``--delay inf``) or did harm (``--worker-id ..`` made the
shard folder OUT itself; ``-o ''`` crawled into the working directory)."""

from __future__ import annotations

import math

import pytest
import yaml
from click.testing import CliRunner

from crawler.cli import main
from tests.helpers.cli import run_cli

SEED = "http://127.0.0.1:9/"

FLAGS = [  # (arguments, what the line must name)
    (["--metrics", "127.0.0.1:99999"], "--metrics"),
    (["--metrics", "127.0.0.1:0"], "--metrics"),
    (["--metrics", "localhost"], "is not ADDR:PORT"),
    (["--name", ".."], "--name"),
    (["--name", "."], "--name"),
    (["--worker-id", ".."], "--worker-id"),
    (["--name", "a/b"], "--name"),
    (["-o", ""], "--output"),
    (["-o", "/etc/hostname"], "--output"),
    (["--delay", "inf"], "--delay"),
    (["--delay", "nan"], "--delay"),
    (["--delay", "1e300"], "--delay"),
    (["--jitter", "inf"], "--jitter"),
    (["--timeout", "inf"], "--timeout"),
    (["--connect-timeout", "nan"], "--connect-timeout"),
    (["--lease-ttl", "inf"], "--lease-ttl"),
    (["--redis-wait", "1e99"], "--redis-wait"),
    (["--render-timeout", "inf"], "--render-timeout"),
    (["--ca-bundle", "/etc/hostname"], "--ca-bundle"),
    (["--allow-domain", "https://example.org/"], "--allow-domain"),
    (["--allow-domain", "*.example.org"], "--allow-domain"),
    (["--resolve", "a:99999:127.0.0.1"], "--resolve"),
    (["--proxy", "http://127.0.0.1:99999"], "--proxy"),
    (["--frontier", "redis://127.0.0.1:99999/0"], "--frontier"),
    (["--concurrency", "0"], "--concurrency"),
    (["--frontier", "redis://127.0.0.1/0?socket_timeout=abc&password=pw"], "--frontier"),
    (["--render", "re:("], "--render"),
    (["--include", "("], "--include"),
    (["--retries", "-1"], "--retries"),
]

YAML = [  # (job keys, what the line must name)
    ({"name": ".."}, "name"),
    ({"worker_id": "."}, "worker_id"),
    ({"metrics": "127.0.0.1:70000"}, "metrics"),
    ({"output": ""}, "output"),
    ({"delay": math.inf}, "delay"),
    ({"timeout": {"read": math.inf}}, "timeout.read"),
    ({"max_retry_after": math.inf}, "max_retry_after"),
    ({"proxy_wait": math.inf}, "proxy_wait"),
    ({"proxy_cooldown": 1e300}, "proxy_cooldown"),
    ({"retry_backoff": math.nan}, "retry_backoff"),
    ({"render_viewport": "00x00"}, "render_viewport"),
    ({"render_viewport": "99999x800"}, "render_viewport"),
    ({"render_block": ["imgae"]}, "render_block"),
    ({"proxy_ban_status": [99999]}, "proxy_ban_status"),
    ({"proxy_rules": [{"match": "re:(", "proxy": "direct"}]}, "proxy_rules.0.match"),
    ({"recrawl_rules": [{"match": "re:[", "after": 60}]}, "recrawl_rules.0.match"),
    ({"recrawl_rules": [{"match": "*", "after": math.inf}]}, "recrawl_rules.0.after"),
    ({"allow_domains": ["example.org:8080"]}, "allow_domains"),
    ({"render": ["re:("]}, "render"),
]


@pytest.fixture
def refused(monkeypatch):
    """A job that gets past validation would crawl (and exit the process): fail the test instead."""

    def accepted(job):
        raise AssertionError(f"the bad value was accepted: job {job.job_name!r} would run")

    monkeypatch.setattr("crawler.cli.execute", accepted)


def one_line(result_code: int, err: str, names: str) -> None:
    assert result_code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and names in lines[0], lines


@pytest.mark.parametrize("args, names", FLAGS, ids=[" ".join(a) for a, _ in FLAGS])
def test_a_bad_flag_is_one_line_and_exit_2(args, names, tmp_path, refused):
    out = [] if "-o" in args else ["-o", str(tmp_path / "o")]
    result = CliRunner().invoke(main, ["crawl", SEED, *out, *args])
    one_line(result.exit_code, result.stderr, names)
    assert not (tmp_path / "o").exists()  # refused before anything was written


@pytest.mark.parametrize("keys, names", YAML, ids=[str(k) for k, _ in YAML])
def test_a_bad_yaml_value_is_one_line_and_exit_2(keys, names, tmp_path, refused):
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({"start_urls": [SEED], "output": str(tmp_path / "o"), **keys}))
    result = CliRunner().invoke(main, ["run", str(job)])
    one_line(result.exit_code, result.stderr, names)
    assert f"{job} line " in result.stderr  # the line the value came from


@pytest.mark.parametrize(
    "args",
    [
        ["status", "redis://127.0.0.1:99999/0/job"],
        ["status", "redis://[::1/0/job"],
        ["bench", "--pages", "0"],
        ["bench", "--hosts", "-1"],
    ],
)
def test_other_commands_refuse_bad_values_in_one_line(args, refused):
    result = CliRunner().invoke(main, args)
    one_line(result.exit_code, result.stderr, "")


async def test_values_found_bad_on_use_are_one_line_and_exit_2(tmp_path, redis_url):
    """An address the metrics server cannot listen on, a Redis database the server lacks: known
    only once the crawl uses them, still one line and exit 2."""
    code, _, err = await run_cli("crawl", SEED, "-o", str(tmp_path / "a"), "--metrics", "nosuchhost.invalid:9100")
    one_line(code, err, "--metrics nosuchhost.invalid:9100")
    code, _, err = await run_cli(
        "crawl", SEED, "-o", str(tmp_path / "b"), "--frontier", redis_url.rsplit("/", 1)[0] + "/99"
    )
    one_line(code, err, "--frontier")
