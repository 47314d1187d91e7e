#!/usr/bin/env bash
# Side-by-side benchmark of catalog against the tools people use today, on one generated
# 1,000,000-file archive, in one run, warm cache. Writes the table into BENCHMARKS.md.
#
#   scripts/bench-peers.sh [FILES]     (default 1000000; BENCH_DIR picks the work directory)
#
# Installs its peers from Debian (fd-find, plocate, hyperfine, time). Medians of several runs.
set -euo pipefail
cd "$(dirname "$0")/.."
files=${1:-1000000}
work=${BENCH_DIR:-/tmp/catalog-bench}
runs=${BENCH_RUNS:-5}
build_runs=${BENCH_BUILD_RUNS:-3}

source scripts/bench-lib.sh
need fdfind:fd-find plocate hyperfine time
build_catalog
root=$work/archive
index=$work/index
db=$work/plocate.db
mkdir -p "$work"
if [ ! -f "$work/archive.$files.done" ]; then
  rm -rf "$root" "$work"/archive.*.done
  "$catalog" sample "$root" --files "$files" --seed 1
  touch "$work/archive.$files.done"
fi
export CATALOG_INDEX=$index
tile='tile:T60WWV AND sat:S2A'
big='sat:S2A AND product:MSIL1C AND date:2019'

median() { # command... -> median seconds over $runs (hyperfine, warm)
  local json
  json=$(mktemp)
  hyperfine --style none --warmup 1 --runs "$1" --export-json "$json" -- "$2" >/dev/null 2>&1
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"])' "$json"
  rm -f "$json"
}
peak_mib() { # command -> peak RSS in MiB
  /usr/bin/time -f '%M' bash -c "$1" 2>&1 >/dev/null | tail -n 1 | awk '{printf "%.0f", $1/1024}'
}
hits() { bash -c "$1" | wc -l; }

find "$root" -type f >/dev/null # warm the dentry and inode caches

declare -A t mem
t[index]=$(median "$build_runs" "$catalog index --full --root $root")
mem[index]=$(peak_mib "$catalog index --full --root $root")
t[statwalk]=$(median "$build_runs" "find $root -type f -printf '%s %T@ %b %p\n' >/dev/null")
mem[statwalk]=$(peak_mib "find $root -type f -printf '%s %T@ %b %p\n'")
t[updatedb]=$(median "$build_runs" "updatedb -l 0 -U $root -o $db")
mem[updatedb]=$(peak_mib "updatedb -l 0 -U $root -o $db")

t[q_tile]=$(median "$runs" "$catalog query -q '$tile' >/dev/null")
t[q_big]=$(median "$runs" "$catalog query -q '$big' >/dev/null")
mem[q_tile]=$(peak_mib "$catalog query -q '$tile'")
mem[q_big]=$(peak_mib "$catalog query -q '$big'")
t[plocate_tile]=$(median "$runs" "plocate -d $db S2A_MSI _T60WWV_ >/dev/null")
t[plocate_big]=$(median "$runs" "plocate -d $db /S2A_MSIL1C_2019 >/dev/null")
t[find_tile]=$(median 3 "find $root -name 'S2A_*_T60WWV_*' >/dev/null")
t[fd_tile]=$(median 3 "fdfind -u --glob 'S2A_*_T60WWV_*' $root >/dev/null")
t[py_tile]=$(median 3 "python3 scripts/oswalk.py $root 'S2A_*_T60WWV_*' >/dev/null")
t[py_big]=$(median 3 "python3 scripts/oswalk.py $root 'S2A_MSIL1C_2019*' >/dev/null")

n_tile=$(hits "$catalog query -q '$tile'")
n_big=$(hits "$catalog query -q '$big'")
n_py_tile=$(hits "python3 scripts/oswalk.py $root 'S2A_*_T60WWV_*'")
n_py_big=$(hits "python3 scripts/oswalk.py $root 'S2A_MSIL1C_2019*'")
n_plocate_tile=$(hits "plocate -d $db S2A_MSI _T60WWV_")
n_plocate_big=$(hits "plocate -d $db /S2A_MSIL1C_2019")
docs=$("$catalog" stats --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["documents"])')
index_bytes=$(du -sb "$index" | cut -f1)
db_bytes=$(stat -c %s "$db")

ms() { python3 -c "print(f'{float(\"$1\")*1000:.1f} ms')"; }
s() { python3 -c "print(f'{float(\"$1\"):.2f} s')"; }
ratio() { python3 -c "print(f'{float(\"$1\")/float(\"$2\"):.2f}')"; }
bpd() { python3 -c "print(f'{int(\"$1\")/int(\"$2\"):.1f}')"; }

table=$(cat <<TABLE
Archive: \`catalog sample --files $files --seed 1\` ($docs documents). Machine: $(nproc) cores,
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), $(df -T "$work" | awk 'NR==2 {print $2}'); $(date -u +%Y-%m-%d).
Command: \`scripts/bench-peers.sh $files\`. Medians of $build_runs (builds, walks) or $runs (queries) warm runs.

| what | catalog | peer | ratio (catalog / peer) |
|---|---|---|---|
| build: \`catalog index --full\` vs stat walk \`find -printf '%s %T@ %b %p'\` | $(s ${t[index]}), peak ${mem[index]} MiB | $(s ${t[statwalk]}), peak ${mem[statwalk]} MiB | $(ratio ${t[index]} ${t[statwalk]}) |
| build: vs plocate \`updatedb\` | $(s ${t[index]}) | $(s ${t[updatedb]}), peak ${mem[updatedb]} MiB | $(ratio ${t[index]} ${t[updatedb]}) |
| size per file: index vs plocate db | $(bpd $index_bytes $docs) B | $(bpd $db_bytes $docs) B | $(ratio $(bpd $index_bytes $docs) $(bpd $db_bytes $docs)) |
| tile query \`$tile\`, whole process ($n_tile hits; plocate $n_plocate_tile, Python $n_py_tile) vs plocate | $(ms ${t[q_tile]}), peak ${mem[q_tile]} MiB | $(ms ${t[plocate_tile]}) | $(ratio ${t[q_tile]} ${t[plocate_tile]}) |
| tile query vs Python os.walk + fnmatch | $(ms ${t[q_tile]}) | $(s ${t[py_tile]}) | 1/$(ratio ${t[py_tile]} ${t[q_tile]}) |
| tile query vs \`find -name\` | $(ms ${t[q_tile]}) | $(s ${t[find_tile]}) | 1/$(ratio ${t[find_tile]} ${t[q_tile]}) |
| tile query vs \`fd\` | $(ms ${t[q_tile]}) | $(s ${t[fd_tile]}) | 1/$(ratio ${t[fd_tile]} ${t[q_tile]}) |
| \`$big\` ($n_big hits; plocate $n_plocate_big, Python $n_py_big) vs plocate | $(ms ${t[q_big]}), peak ${mem[q_big]} MiB | $(ms ${t[plocate_big]}) | $(ratio ${t[q_big]} ${t[plocate_big]}) |
| same vs Python os.walk + fnmatch | $(ms ${t[q_big]}) | $(s ${t[py_big]}) | 1/$(ratio ${t[py_big]} ${t[q_big]}) |
TABLE
)
printf '%s\n' "$table" | scripts/bench-table.py bench-peers "catalog against its peers (issue: the catalog core)"
