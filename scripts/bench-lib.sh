# What the benchmark scripts share; each sources it from the repository root.

# Installs, from the distribution, the tools among `command[:package]...` that are missing
# (`time` is /usr/bin/time, not the shell keyword).
need() {
  local missing=() tool command
  for tool in "$@"; do
    command=${tool%%:*}
    if [ "$command" = time ]; then
      [ -x /usr/bin/time ] && continue
    elif command -v "$command" >/dev/null; then
      continue
    fi
    missing+=("${tool#*:}")
  done
  if ((${#missing[@]})); then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Builds the release binary, the one measured, and names it $catalog.
build_catalog() {
  cargo build --release --quiet
  catalog=$PWD/target/release/catalog
}

# Starts `catalog serve` on a free loopback port over $CATALOG_INDEX, with its output in
# $1; sets $server (its pid) and $url, and stops it when the script exits.
start_server() {
  "$catalog" serve --listen 127.0.0.1:0 >"$1" 2>/dev/null &
  server=$!
  trap 'kill $server 2>/dev/null || true' EXIT
  for _ in $(seq 600); do grep -q listening "$1" && break; sleep 0.1; done
  url=$(sed -n 's/^listening on //p' "$1")
}

# wrk for $seconds against $url: load CONNECTIONS PATH [SCRIPT] -> "requests/s p50 p99";
# a wrk Lua SCRIPT makes the requests instead of asking for PATH again and again.
load() {
  wrk -t2 -c"$1" -d"${seconds}s" --latency ${3:+-s "$3"} "$url$2" | awk '
    /Requests\/sec/ {rps=$2}
    /^ +50%/ {p50=$2}
    /^ +99%/ {p99=$2}
    END {print rps, p50, p99}'
}
