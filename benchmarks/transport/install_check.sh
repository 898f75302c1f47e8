#!/usr/bin/env bash
# Q1: does curl_cffi install on Python 3.11 (the project's venv) and 3.13 (download only)? Version, wheel tags.
# Run: bash benchmarks/transport/install_check.sh [venv]   (default /tmp/v28)
set -euo pipefail
V=${1:-/tmp/v28}
echo "== 3.11: $($V/bin/python --version)"
$V/bin/python -c 'import curl_cffi, sys; print("curl_cffi", curl_cffi.__version__, "|", curl_cffi.__curl_version__)'
grep '^Tag:' "$($V/bin/python -c 'import importlib.metadata as m; print(m.distribution("curl_cffi")._path)')/WHEEL"
$V/bin/pip list 2>/dev/null | grep -iE '^(curl.cffi|cffi|certifi|h2|hpack|hyperframe|aiohttp|trustme|brotli) '
echo "== 3.13: download only"
D=$(mktemp -d /tmp/t28-dl-XXXX)
/root/.pyenv/versions/3.13.0/bin/python3.13 -m pip download -q curl_cffi --only-binary :all: -d "$D" 2>&1 | grep -v WARNING || true
ls "$D"
