#!/usr/bin/env bash
# Scale benchmark: an index of DOCUMENTS documents built with --from-list from a generated list
# (no files are created), an unchanged rebuild, a day's ingest (50,000 new files of a sample
# archive through --from-list FILE --update, which stats each path), whole-process queries and
# `catalog serve` under wrk. Writes its table into BENCHMARKS.md, one table per size.
#
#   scripts/bench-scale.sh [DOCUMENTS] [MEMORY_MIB]    (defaults 10000000 and 1536)
#
# BENCH_DIR picks the work directory; if it holds the 1,000,000-file archive of
# scripts/bench-peers.sh, the walk-based incremental rebuild is measured on it too.
# 1.5x10^8 documents take about 25 GB of list and 10 GB of index: remove $BENCH_DIR after.
set -euo pipefail
cd "$(dirname "$0")/.."
docs=${1:-10000000}
memory=${2:-1536}
work=${BENCH_DIR:-/tmp/catalog-bench}
seconds=${BENCH_SECONDS:-15}
source scripts/bench-lib.sh
need hyperfine time wrk
build_catalog
mkdir -p "$work"
list=$work/list.$docs.txt
[ -s "$list" ] || python3 scripts/gen-list.py "$docs" >"$list"
export CATALOG_INDEX=$work/scale-index

timed() { # command... -> "seconds peak_mib" on stdout
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "$@" >/dev/null 2>"$work/stderr.txt" || {
    cat "$work/stderr.txt" >&2
    return 1
  }
  awk '{printf "%s %.0f", $1, $2/1024}' "$work/time.txt"
}
median() { # runs command -> median seconds
  local json
  json=$(mktemp)
  hyperfine --style none --warmup 1 --runs "$1" --export-json "$json" -- "$2" >/dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
  rm -f "$json"
}
ms() { python3 -c "print(f'{float(\"$1\")*1000:.1f} ms')"; }
# query runs ARGS... -> "median_seconds hits peak_mib" of `catalog query ARGS` to /dev/null
query() {
  local runs=$1 args hits
  shift
  args=$(printf "'%s' " "$@")
  hits=$("$catalog" query "$@" | tail -n 1)
  [ "${1:-}" = --count ] || hits=$("$catalog" query "$@" | wc -l)
  read -r _ mib <<<"$(timed "$catalog" query "$@")"
  echo "$(median "$runs" "$catalog query $args >/dev/null") $hits $mib"
}

read -r build_s build_mib <<<"$(timed "$catalog" index --full --from-list "$list" --memory "$memory")"
read -r again_s again_mib <<<"$(timed "$catalog" index --from-list "$list" --memory "$memory")"
documents=$("$catalog" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
bytes=$(du -sb "$CATALOG_INDEX" | cut -f1)
tile='tile:T60WWV AND sat:S2A'
year='sat:S2A AND product:MSIL1C AND date:2019'
days='sat:S2A AND product:MSIL1C AND date:[2019-03-01 TO 2019-03-04]'
read -r tile_s tile_hits tile_mib <<<"$(query 10 -q "$tile")"
read -r days_s days_hits days_mib <<<"$(query 10 -q "$days")"
read -r year_s year_hits year_mib <<<"$(query 3 -q "$year")"
read -r year_count_s year_count year_count_mib <<<"$(query 10 --count -q "$year")"
read -r sat_count_s sat_count sat_count_mib <<<"$(query 10 --count -q 'sat:S2A AND date:2019')"
read -r big_s big_hits big_mib <<<"$(query 3 -q 'date:2019')"

# A day's ingest: files that exist, since an update stats each path it is given.
day=$work/day
[ -d "$day" ] || "$catalog" sample --files 50000 --seed 7 "$day" >/dev/null
find "$day" -type f -printf '%s %T@ %b %p\n' >"$work/day.txt"
day_paths=$(wc -l <"$work/day.txt")
read -r day_s day_mib <<<"$(timed "$catalog" index --from-list "$work/day.txt" --update --memory "$memory")"

walk_rows=""
archive=$work/archive
if [ -d "$archive" ]; then
  walk_index=$work/walk-index
  full_walk=$(median 3 "$catalog index --full --root $archive --index $walk_index")
  again_walk=$(median 3 "$catalog index --root $archive --index $walk_index")
  walk_files=$(CATALOG_INDEX=$walk_index "$catalog" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
  walk_rows="| crawl of the ${walk_files}-file sample archive: full build / unchanged rerun (medians of 3) | $(printf '%.2f s / %.2f s' "$full_walk" "$again_walk") | rerun takes $(python3 -c "print(f'{$again_walk/$full_walk:.0%}')") of a full build |"
fi

start_server "$work/serve.out"
search='/search?q=tile:T60WWV%20AND%20sat:S2A'
count='/count?q=tile:T60WWV%20AND%20sat:S2A'
curl -sf "$url$search" >/dev/null
read -r s32_rps s32_p50 s32_p99 <<<"$(load 32 "$search")"
read -r s8_rps s8_p50 s8_p99 <<<"$(load 8 "$search")"
read -r c32_rps c32_p50 c32_p99 <<<"$(load 32 "$count")"
read -r c8_rps c8_p50 c8_p99 <<<"$(load 8 "$count")"
serve_mib=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' "/proc/$server/status")
kill "$server"

pct() { python3 -c "print(f'{$1/$2:.0%}')"; }
rate() { python3 -c "print(f'{$1/$2/1e6:.2f} M paths/s')"; }
table=$(cat <<TABLE
Command: \`scripts/bench-scale.sh $docs $memory\` (list from \`scripts/gen-list.py\`, \`--memory $memory\`).
Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(date -u +%Y-%m-%d).
Peaks are \`/usr/bin/time\`'s maximum resident set (the server's VmHWM), mapped index pages included.
Goals are those for 1.5×10^8 documents.

| what | measured | goal |
|---|---|---|
| full build of $documents documents from the list | $(printf '%.1f s' "$build_s"), peak $build_mib MiB | at most 20 min, 4 GiB |
| unchanged rebuild from the same list | $(printf '%.1f s' "$again_s") ($(pct "$again_s" "$build_s") of the full build), peak $again_mib MiB | well under half, 4 GiB |
| a day's ingest: \`--from-list FILE --update\` of $day_paths new paths | $(printf '%.1f s' "$day_s"), peak $day_mib MiB | at most 30 s |
| index size | $(python3 -c "print(f'{$bytes/2**30:.2f} GiB, {$bytes/$documents:.1f} bytes per document')") | at most 70 B per document |
| \`$tile\` ($tile_hits paths), whole process, median of 10 | $(ms "$tile_s"), peak $tile_mib MiB | at most 50 ms |
| \`$days\` ($days_hits paths), median of 10 | $(ms "$days_s"), peak $days_mib MiB | 20,000 paths in at most 200 ms |
| \`$year\` ($year_hits paths), median of 3 | $(ms "$year_s") = $(rate "$year_hits" "$year_s"), peak $year_mib MiB | |
| the same with \`--count\` ($year_count), median of 10 | $(ms "$year_count_s"), peak $year_count_mib MiB | |
| \`--count\` of \`sat:S2A AND date:2019\` ($sat_count), median of 10 | $(ms "$sat_count_s"), peak $sat_count_mib MiB | at most 100 ms |
| \`date:2019\` ($big_hits paths) streamed to /dev/null, median of 3 | $(ms "$big_s") = $(rate "$big_hits" "$big_s"), peak $big_mib MiB | at least 1 M paths/s |
| \`catalog serve\` \`$search\`, 32 / 8 connections (wrk, ${seconds} s each) | $s32_rps/s, p50 $s32_p50, p99 $s32_p99 / $s8_rps/s, p50 $s8_p50, p99 $s8_p99 | at least 1,000/s |
| \`catalog serve\` \`$count\`, 32 / 8 connections | $c32_rps/s, p50 $c32_p50, p99 $c32_p99 / $c8_rps/s, p50 $c8_p50, p99 $c8_p99; server peak $serve_mib MiB | |
$walk_rows
TABLE
)
printf '%s\n' "$table" | scripts/bench-table.py "bench-scale-$docs" "Scale: $docs documents (issue 14)"
