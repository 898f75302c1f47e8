"""Running a recipe of ``docs/recipes/`` as its page says (``crawler run RECIPE``) against a local
site: the recipe's own start URLs, host names and paths, served over plain HTTP on the site's port
and pinned to 127.0.0.1 with ``--resolve``, as a user pins a staging host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from yarl import URL

from crawler.jobfile import load_yaml, merge
from tests.helpers.site import Site

RECIPES = Path(__file__).resolve().parents[2] / "docs" / "recipes"


def recipe(name: str) -> Path:
    return RECIPES / f"{name}.yaml"


def local_url(url: str, site: Site) -> str:
    """``url`` (its host and path kept) on the local site: plain HTTP on the site's port."""
    return str(URL(url).with_scheme("http").with_port(site.port))


def run_args(job: Path, site: Site, out: Path, *extra: str) -> list[str]:
    """``crawler run JOB SEEDS --resolve … -o OUT EXTRA``: the job's start URLs moved to the
    local site (URLs after the job file replace its start_urls) and their hosts pinned there."""
    data, _ = load_yaml(job)
    seeds = [local_url(u, site) for u in data["start_urls"]]
    hosts = dict.fromkeys(URL(u).host or "" for u in seeds)
    pins = [arg for pin in site.pin(*hosts) for arg in ("--resolve", pin)]
    return ["run", str(job), *seeds, *pins, "-o", str(out), *extra]


def derived(name: str, folder: Path, **changes: Any) -> Path:
    """The recipe with ``changes`` in place of its keys (what cannot exist here, such as its
    proxies), read and merged by the job loader and written to ``folder``."""
    data, _ = load_yaml(recipe(name))
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(merge(data, changes), sort_keys=False))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_path(lines: list[dict[str, Any]], key: str = "url") -> dict[str, dict[str, Any]]:
    """JSONL lines by their URL's path (the site's port left out)."""
    return {URL(line[key]).path_qs: line for line in lines}
