#!/usr/bin/env bash
# Scale benchmark: a 10,000,000-document index built with --from-list from a generated list
# (no files are created), plus incremental rebuilds and a day's ingest (50,000 new files of a
# sample archive through --from-list FILE --update, which stats each path). Writes its table
# into BENCHMARKS.md.
#
#   scripts/bench-scale.sh [DOCUMENTS] [MEMORY_MIB]    (defaults 10000000 and 1536)
#
# BENCH_DIR picks the work directory; if it holds the 1,000,000-file archive of
# scripts/bench-peers.sh, the walk-based incremental rebuild is measured on it too.
set -euo pipefail
cd "$(dirname "$0")/.."
docs=${1:-10000000}
memory=${2:-1536}
work=${BENCH_DIR:-/tmp/catalog-bench}
source scripts/bench-lib.sh
need hyperfine time
build_catalog
mkdir -p "$work"
list=$work/list.$docs.txt
[ -s "$list" ] || python3 scripts/gen-list.py "$docs" >"$list"
export CATALOG_INDEX=$work/scale-index

timed() { # label command... -> "seconds peak_mib" on stdout
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

read -r build_s build_mib <<<"$(timed "$catalog" index --full --from-list "$list" --memory "$memory")"
read -r again_s again_mib <<<"$(timed "$catalog" index --from-list "$list" --memory "$memory")"
documents=$("$catalog" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
bytes=$(du -sb "$CATALOG_INDEX" | cut -f1)
tile_s=$(median 10 "$catalog query -q 'tile:T60WWV AND sat:S2A' >/dev/null")
tile_hits=$("$catalog" query -q 'tile:T60WWV AND sat:S2A' | wc -l)
read -r tile_peak_s tile_mib <<<"$(timed "$catalog" query -q 'tile:T60WWV AND sat:S2A')"
big='date:2019'
big_s=$(median 3 "$catalog query -q '$big' >/dev/null")
big_hits=$("$catalog" query -q "$big" | wc -l)
read -r big_peak_s big_mib <<<"$(timed "$catalog" query -q "$big")"

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

table=$(cat <<TABLE
Command: \`scripts/bench-scale.sh $docs $memory\` (list from \`scripts/gen-list.py\`, \`--memory $memory\`).
Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(date -u +%Y-%m-%d).

| what | measured | goal |
|---|---|---|
| full build of $documents documents from the list | $(printf '%.1f s' "$build_s"), peak $build_mib MiB | peak under 2 GiB |
| unchanged rebuild from the same list | $(printf '%.1f s' "$again_s"), peak $again_mib MiB ($(python3 -c "print(f'{$again_s/$build_s:.0%}')") of the full build) | well under half |
| index size | $(python3 -c "print(f'{$bytes/2**30:.2f} GiB, {$bytes/$documents:.1f} bytes per document')") | |
| tile query \`tile:T60WWV AND sat:S2A\`, whole process ($tile_hits hits; median of 10) | $(python3 -c "print(f'{$tile_s*1000:.1f} ms')"), peak $tile_mib MiB | under 50 ms |
| \`$big\` ($big_hits paths) streamed to /dev/null, whole process (median of 3) | $(python3 -c "print(f'{$big_s:.2f} s = {$big_hits/$big_s/1e6:.2f} M paths/s')"), peak $big_mib MiB | over 1 M paths/s |
| a day's ingest: \`--from-list FILE --update\` of $day_paths new paths | $(printf '%.1f s' "$day_s"), peak $day_mib MiB | at most 30 s |
$walk_rows
TABLE
)
printf '%s\n' "$table" | scripts/bench-table.py bench-scale "Scale: 10 million documents (issue: periodic rebuild at archive scale)"
