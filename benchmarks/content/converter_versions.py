#!/usr/bin/env python3
"""html-to-markdown releases side by side on the same regions, interleaved page by page in one
process (a study for issue 27's speed goal: how much of content's cost is the converter's).

Each release is installed into its own directory (``pip install --target DIR html-to-markdown==V``)
and copied under an alias package (``h2m_3_10_6``…) so that several load in one process: the Rust
module keeps its file name (its init function is found by that), only the Python wrapper's
imports are renamed. The regions are what the crawler hands the converter: ``main_region`` then
``_prepare`` of each HTML page of a crawl's output, pickled as (url, html) pairs by ``--regions``.
Each call gets prebuilt Rust options (the wrapper's per-call option coercion is left out), so the
numbers are the converter's own. Example::

    python benchmarks/content/converter_versions.py --regions OUT/records.jsonl OUT regions.pkl
    for v in 3.10.6 3.14.3 3.18.7 3.21.2; do pip install -q --target /tmp/h2m-$v html-to-markdown==$v; done
    python benchmarks/content/converter_versions.py regions.pkl /tmp/alias /tmp/h2m-3.10.6 /tmp/h2m-3.21.2 ...
"""

from __future__ import annotations

import importlib
import inspect
import json
import pickle
import re
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def regions(records: Path, out: Path, target: Path) -> None:
    """The crawl's HTML pages (``records.jsonl`` of ``out``) as the converter gets them."""
    from crawler.content.markdown import _prepare
    from crawler.content.region import main_region
    from crawler.parsing.parse import parse_document

    found = []
    for line in records.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("status") == 200 and (rec.get("content_type") or "").startswith("text/html") and rec.get("path"):
            node = main_region(parse_document((out / rec["path"]).read_bytes(), rec["content_type"]))
            _prepare(node)
            found.append((rec["url"], node.html or ""))
    target.write_bytes(pickle.dumps(found))


def alias(release_dir: Path, aliases: Path) -> str:
    """The release installed in ``release_dir``, copied under a package name of its own."""
    version = next(release_dir.glob("html_to_markdown-*.dist-info")).name.removesuffix(".dist-info").split("-")[1]
    name = "h2m_" + version.replace(".", "_")
    copy = aliases / name
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(release_dir / "html_to_markdown", copy)
    for py in copy.rglob("*.py"):
        text = py.read_text()
        text = re.sub(r"\bhtml_to_markdown\b(?=[. ]|$)", name, text, flags=re.M)
        py.write_text(text)
    return name


def converter(name: str) -> Callable[[str], Any]:
    """The release's Rust convert with the crawler's options, built once."""
    module = importlib.import_module(name)
    accepts = inspect.signature(module.ConversionOptions).parameters
    options: dict[str, Any] = {"extract_metadata": False, "preprocessing": module.PreprocessingOptions(enabled=False)}
    options |= {k: v for k, v in (("tier_strategy", "tier1"), ("infer_dimensions", False)) if k in accepts}
    rust_options = module.api._to_rust_conversion_options(module.ConversionOptions(**options))
    rust = importlib.import_module(name + "._html_to_markdown")
    return lambda html: rust.convert(html=html, options=rust_options)


def main(argv: list[str]) -> None:
    if argv[0] == "--regions":
        regions(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return
    pages = pickle.loads(Path(argv[0]).read_bytes())
    aliases = Path(argv[1])
    aliases.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(aliases))
    names = [alias(Path(d), aliases) for d in argv[2:]]
    convert = {name: converter(name) for name in names}
    spent = dict.fromkeys(names, 0.0)
    for _ in range(2):
        for _, html in pages:
            for name, run in convert.items():
                started = time.process_time()
                run(html)
                spent[name] += time.process_time() - started
    for name in names:
        print(f"{name}: {1000 * spent[name] / len(pages) / 2:.3f} ms per region ({len(pages)} regions, 2 rounds)")


if __name__ == "__main__":
    main(sys.argv[1:])
