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
