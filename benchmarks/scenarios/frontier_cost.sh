#!/usr/bin/env bash
# Cost of the SQLite frontier against the in-memory one on the real corpus, measured in one run:
# compare.sh's ceiling, then the crawler with each frontier, alternating, ROUNDS times.
# Usage: benchmarks/scenarios/frontier_cost.sh [ROUNDS]   (env CRAWLER: the crawler command, default .venv/bin/crawler)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH=${BENCH:-$HERE/../../../shared/bench}
CRAWLER=${CRAWLER:-$HERE/../../.venv/bin/crawler}
WRAP=$(mktemp -d)
for f in sqlite memory; do
  printf '#!/bin/sh\nexec %s "$@" --frontier %s\n' "$CRAWLER" "$f" > "$WRAP/$f"; chmod +x "$WRAP/$f"
done
ONLY=ceiling bash "$BENCH/compare.sh" | grep rc=
for _ in $(seq "${1:-3}"); do
  for f in sqlite memory; do
    CRAWLER=$WRAP/$f ONLY=crawler bash "$BENCH/compare.sh" | grep rc= | sed "s/^crawler /$f  /"
  done
done
