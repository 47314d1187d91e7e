#!/usr/bin/env bash
# Load benchmark of `catalog serve` on loopback with wrk: requests/s and latency percentiles
# for a tile search and a file list, many concurrent clients. Writes its table into
# BENCHMARKS.md. The load tool shares the machine's cores with the server.
#
#   scripts/bench-serve.sh [FILES]     (default 1000000; BENCH_DIR picks the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000000}
work=${BENCH_DIR:-/tmp/catalog-bench}
seconds=${BENCH_SECONDS:-15}
source scripts/bench-lib.sh
need wrk
build_catalog
mkdir -p "$work"
if [ ! -f "$work/archive.$files.done" ]; then
  rm -rf "$work/archive" "$work"/archive.*.done
  "$catalog" sample "$work/archive" --files "$files" --seed 1
  touch "$work/archive.$files.done"
fi
export CATALOG_INDEX=$work/index
"$catalog" index --root "$work/archive" >/dev/null 2>&1
start_server "$work/serve.out"

tile='/search?q=tile:T60WWV%20AND%20sat:S2A'
list='/filelist?q=tile:T60WWV%20AND%20sat:S2A'
big='/filelist?q=sat:S2A%20AND%20product:MSIL1C%20AND%20date:2019'
hits=$(curl -s "$url$tile" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
big_hits=$(curl -s "$url$big" | wc -l)
# Distinct searches: a random tile of the index and a random year each, so that the answers
# lie in different directories and the server's decoded path blocks are mostly not the ones
# asked for (the tile search above asks for the same blocks every time).
curl -s "$url/fields" | python3 -c '
import json, sys
for field in json.load(sys.stdin)["fields"]:
    if field["name"] == "tile":
        print("\n".join(v["value"].upper() for v in field["values"]))' >"$work/tiles.txt"
tiles=$(wc -l <"$work/tiles.txt")
export CATALOG_TILES=$work/tiles.txt
read -r r_rps r_p50 r_p99 <<<"$(load 32 / scripts/wrk-tile-years.lua)"
read -r t_rps t_p50 t_p99 <<<"$(load 32 "$tile")"
read -r t8_rps t8_p50 t8_p99 <<<"$(load 8 "$tile")"
read -r l_rps l_p50 l_p99 <<<"$(load 32 "$list")"
read -r b_rps b_p50 b_p99 <<<"$(load 8 "$big")"

table=$(cat <<TABLE
Command: \`scripts/bench-serve.sh $files\`: \`wrk -t2 -d${seconds}s --latency\` against \`catalog serve\` on 127.0.0.1,
index of \`catalog sample --files $files\`; wrk and the server share the $(nproc) cores. $(date -u +%Y-%m-%d).

| endpoint | connections | requests/s | p50 | p99 |
|---|---|---|---|---|
| \`$tile\` ($hits hits) | 32 | $t_rps | $t_p50 | $t_p99 |
| \`$tile\` ($hits hits) | 8 | $t8_rps | $t8_p50 | $t8_p99 |
| \`/search?q=tile:T AND date:Y\`, a random tile of $tiles and year each | 32 | $r_rps | $r_p50 | $r_p99 |
| \`$list\` ($hits paths) | 32 | $l_rps | $l_p50 | $l_p99 |
| \`$big\` ($big_hits paths) | 8 | $b_rps | $b_p50 | $b_p99 |
TABLE
)
printf '%s\n' "$table" | scripts/bench-table.py bench-serve "catalog serve under load (issue: the local query API)"
