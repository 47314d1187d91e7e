#!/usr/bin/env bash
# catalog and its peers on a network file system's metadata latency: every metadata system call
# of the measured process (stat, statx, newfstatat, lstat, getdents64, openat) is delayed by 1 ms
# with strace's fault injection, as an NFS or GPFS client pays a round trip for each. The archive
# is `catalog sample --per-day`, whose day directories hold hundreds of files, as the real
# archive's do. Each run once under the latency; the same catalog commands, find and updatedb's
# rerun also on the local warm tree (medians of 3), so nothing regresses there. Writes the table
# into BENCHMARKS.md.
#
#   scripts/bench-netfs.sh [FILES] [PER_DAY]      (defaults 100000 and 250)
#
# IO_THREADS=N passes --io-threads N to the catalog runs (default: the binary's own default);
# the full crawl is measured with --io-threads 2, 8, 32 and 64 as well. BENCH_DIR picks the work
# directory, BENCH_DELAY_US the delay per call (1000), BENCH_RUNS the local runs (3).
# Installs its peers from Debian (strace, plocate, fd-find, hyperfine, time).
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-100000}
per_day=${2:-250}
work=${BENCH_DIR:-/tmp/catalog-netfs}
delay=${BENCH_DELAY_US:-1000}
runs=${BENCH_RUNS:-3}
io_threads=${IO_THREADS:-}
sweep=(2 8 32 64)

source scripts/bench-lib.sh
need strace fdfind:fd-find plocate hyperfine time
build_catalog
root=$work/archive
index=$work/index
db=$work/plocate.db
rounds=$work/change-rounds
mkdir -p "$work"

# A fresh archive every time: the runs below change it.
rm -rf "$root" "$index" "$db"
"$catalog" sample "$root" --files "$files" --per-day "$per_day" --seed 11 2>"$work/sample.txt" || {
  cat "$work/sample.txt" >&2
  exit 1
}
cat "$work/sample.txt"
day_dirs=$(sed -n 's/.* in \([0-9]*\) day directories (\([0-9.]*\) files each.*/\1/p' "$work/sample.txt")
day_avg=$(sed -n 's/.* in \([0-9]*\) day directories (\([0-9.]*\) files each.*/\2/p' "$work/sample.txt")
for flag in --io-threads --restat; do
  "$catalog" index --help | grep -q -- "$flag" || {
    echo "catalog index has no $flag" >&2
    exit 1
  }
done
threads_args=()
[ -z "$io_threads" ] || threads_args=(--io-threads "$io_threads")

# The changes of one round: 5 files added to each of 3 day directories, 5 removed from each of 2
# others, and a new day directory of 20 files. Each round picks other directories.
change() { # ROOT ROUNDS_FILE
  local root=$1 round dirs d i f stem new
  round=$(cat "$2" 2>/dev/null || echo 0)
  echo $((round + 1)) >"$2"
  mapfile -t dirs < <(find "$root" -mindepth 6 -maxdepth 6 -type f -printf '%h\n' | sort | uniq -c |
    awk '$1 >= 5 {print $2}')
  ((${#dirs[@]} >= 5)) || {
    echo "change: fewer than 5 day directories with 5 files" >&2
    return 1
  }
  local -a picked=()
  for i in 0 1 2 3 4; do picked+=("${dirs[$(((round * 5 + i) % ${#dirs[@]}))]}"); done
  for d in "${picked[@]:0:3}"; do
    f=$(find "$d" -maxdepth 1 -type f | sort | awk "NR == 1")
    stem=${f%.*}
    for i in 1 2 3 4 5; do printf x >"${stem}_r${round}n$i.${f##*.}"; done
  done
  for d in "${picked[@]:3:2}"; do
    find "$d" -maxdepth 1 -type f | sort | awk "NR <= 5" | xargs rm --
  done
  new=$(dirname "$(dirname "$(dirname "${picked[0]}")")")/2026/01/$(printf %02d $((round % 28 + 1)))
  mkdir -p "$new"
  f=$(basename "$(find "${picked[0]}" -maxdepth 1 -type f | sort | awk "NR == 1")")
  for i in $(seq 1 20); do printf x >"$new/${f%.*}_r${round}d$i.${f##*.}"; done
}
export -f change
rm -f "$rounds"

sc=newfstatat,statx,lstat,stat,getdents64,openat
slow=(strace -f --seccomp-bpf -qq -o /dev/null -e "trace=$sc" -e "inject=$sc:delay_enter=$delay")
declare -A t mem listed l
once() { # NAME COMMAND...: run once under the latency; seconds in t[NAME], peak MiB in mem[NAME]
  local name=$1 kib
  shift
  echo "under latency: $name" >&2
  /usr/bin/time -f '%e %M' -o "$work/time.txt" "${slow[@]}" "$@" || {
    echo "failed under latency: $*" >&2
    cat "$work/time.txt" >&2
    return 1
  }
  read -r "t[$name]" kib < <(tail -n 1 "$work/time.txt")
  mem[$name]=$((kib / 1024))
}
local_median() { # NAME COMMAND [PREPARE]: median seconds of $runs warm runs in l[NAME]
  local json=$work/hyperfine.json
  echo "local: $1" >&2
  hyperfine --shell bash --style none --warmup 1 --runs "$runs" --export-json "$json" \
    ${3:+--prepare "$3"} -- "$2" >"$work/hyperfine.txt" 2>&1 || {
    cat "$work/hyperfine.txt" >&2
    return 1
  }
  l[$1]=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json")
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }
threads_label() { # what the catalog runs below pass, or that they take the default
  if [ -n "$io_threads" ]; then
    echo "\`--io-threads $io_threads\`"
  else
    echo "its default \`--io-threads\`"
  fi
}
cat_index=("$catalog" index --json --root "$root" --index "$index")

find "$root" -type f >/dev/null # warm the dentry and inode caches

once find find "$root" -type f -printf '%s %T@ %b %p\n' >/dev/null
once updatedb updatedb -l 0 -U "$root" -o "$db"
once updatedb_rerun updatedb -l 0 -U "$root" -o "$db"
once fd fdfind -u . "$root" >/dev/null
once fd32 fdfind -u -j 32 . "$root" >/dev/null
located=$(plocate -d "$db" -c "$root/")

once full "${cat_index[@]}" --full "${threads_args[@]}" >"$work/full.json"
once rerun "${cat_index[@]}" "${threads_args[@]}" >"$work/rerun.json"
change "$root" "$rounds"
once changed "${cat_index[@]}" "${threads_args[@]}" >"$work/changed.json"
once restat "${cat_index[@]}" --restat "${threads_args[@]}" >"$work/restat.json"
for n in "${sweep[@]}"; do
  once "full$n" "${cat_index[@]}" --full --io-threads "$n" >"$work/full$n.json"
done
for run in full rerun changed restat "${sweep[@]/#/full}"; do listed[$run]=$(field "$work/$run.json" dirs_listed); done
docs=$(field "$work/full.json" documents)

q() { printf '%q ' "$@"; }
cat="$(q "$catalog") index --json --root $(q "$root") --index $(q "$index")"
local_median find "find $(q "$root") -type f -printf '%s %T@ %b %p\n' >/dev/null"
local_median updatedb_rerun "$(q updatedb -l 0 -U "$root" -o "$db")"
local_median full "$cat --full ${threads_args[*]} >/dev/null"
local_median rerun "$cat ${threads_args[*]} >/dev/null"
local_median changed "$cat ${threads_args[*]} >/dev/null" "change $(q "$root" "$rounds")"
local_median restat "$cat --restat ${threads_args[*]} >/dev/null"
for n in "${sweep[@]}"; do
  local_median "full$n" "$cat --full --io-threads $n >/dev/null"
done

s() { python3 -c "x = float('$1'); print(f'{x * 1000:.0f} ms' if x < 1 else f'{x:.2f} s' if x < 10 else f'{x:.1f} s')"; }
ratio() { python3 -c "print(f'{float(\"$1\") / float(\"$2\"):.3f}')"; }
verdict() { python3 -c "print('met' if float('$1') / float('$2') <= float('$3') else 'missed')"; }
row() { # NAME LABEL [LOCAL]
  local here=-
  [ -z "${3:-}" ] || here=$(s "${l[$1]}")
  printf '| %s | %s, peak %s MiB | %s | %s |\n' "$2" "$(s "${t[$1]}")" "${mem[$1]}" "$here" "${listed[$1]:--}"
}
goal() { # LABEL A B AT_MOST GOAL
  printf '| %s | %s | %s | %s | %s |\n' "$1" "$(ratio "${t[$2]}" "${t[$3]}")" \
    "$(ratio "${l[$2]}" "${l[$3]}")" "$5" "$(verdict "${t[$2]}" "${t[$3]}" "$4")"
}

find_label='`find ROOT -type f -printf '"'"'%s %T@ %b %p\n'"'"'`'
table=$(
  cat <<TABLE
Archive: \`catalog sample --files $files --per-day $per_day --seed 11\`: $docs documents in $day_dirs day
directories ($day_avg files each on average), ${listed[full]} directories in all. Machine: $(nproc) cores,
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(df -T "$work" | awk 'NR==2 {print $2}'); $(date -u +%Y-%m-%d).
Latency: each run once with every metadata call delayed by $((delay / 1000)) ms,
\`strace -f --seccomp-bpf -qq -o /dev/null -e trace=$sc -e inject=$sc:delay_enter=$delay COMMAND\`
(the peak includes strace's). Local: the same tree warm, medians of $runs runs.
Command: \`scripts/bench-netfs.sh $files $per_day\`; catalog with $(threads_label) unless named.
Changes: 5 files added to each of 3 day directories, 5 removed from each of 2 others, a new day directory of 20 files.

| run | $((delay / 1000)) ms per metadata call | local warm | directories listed ($((delay / 1000)) ms) |
|---|---|---|---|
$(row find "$find_label" local)
$(row updatedb "plocate \`updatedb -l 0 -U ROOT -o DB\`, fresh database ($located entries)")
$(row updatedb_rerun "\`updatedb\` unchanged rerun" local)
$(row fd "\`fdfind -u . ROOT\` (lists directories, stats no file; $(nproc) threads, one per core)")
$(row fd32 "\`fdfind -u -j 32 . ROOT\`")
$(row full "\`catalog index --full\`: full crawl" local)
$(row rerun "\`catalog index\`: unchanged rerun" local)
$(row changed "\`catalog index\`: rerun after the changes" local)
$(row restat "\`catalog index --restat\`: every file stat'ed again" local)
$(for n in "${sweep[@]}"; do row "full$n" "\`catalog index --full --io-threads $n\`" local; done)

| ratio | $((delay / 1000)) ms per call | local warm | goal | verdict ($((delay / 1000)) ms) |
|---|---|---|---|---|
$(goal "catalog full crawl / \`find -printf\`" full find 0.1 "at most 0.1")
$(goal "catalog unchanged rerun / \`updatedb\` rerun" rerun updatedb_rerun 0.5 "at most 0.5")
$(goal "catalog unchanged rerun / catalog full crawl" rerun full 0.1 "at most 0.1")
$(goal "catalog rerun after changes / unchanged rerun" changed rerun 1.5 "about 1 (taken as at most 1.5)")
TABLE
)
printf '%s\n' "$table" | scripts/bench-table.py bench-netfs "Network file system latency (issue: archive scale)"
