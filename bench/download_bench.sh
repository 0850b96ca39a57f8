#!/usr/bin/env bash
# Download throughput and memory of mews-export against curl, on loopback.
# The sandbox serves one export of FILES files of SIZE_MB MiB each from memory
# (so the server is not the bottleneck); each client fetches the same URLs.
# Usage: bench/download_bench.sh [BUILD_DIR] ; env SIZE_MB (default 512), FILES (default 2), RUNS (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
size_mb=${SIZE_MB:-512}
files=${FILES:-2}
runs=${RUNS:-3}
work=$(mktemp -d /tmp/mews-bench.XXXXXX)
trap 'kill $sandbox 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/scenario.json" <<JSON
{"entities": {"OrderItem": {"files": $files, "bytes_per_file": $((size_mb * 1024 * 1024))}},
 "cache_limit_bytes": $(((size_mb + 1) * 1024 * 1024)), "progression": {"pending_polls": 0, "processing_polls": 0}}
JSON
"$build/src/sandbox/mews-sandbox" --port 0 --ready-file "$work/ready" --scenario "$work/scenario.json" >/dev/null &
sandbox=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
export MEWS_PLATFORM=$(jq -r .url "$work/ready") MEWS_CLIENT_TOKEN=$(jq -r .client_token "$work/ready") \
  MEWS_ACCESS_TOKEN=$(jq -r .access_token "$work/ready") MEWS_EXPORT_STATE_DIR="$work/state" XDG_CONFIG_HOME="$work/cfg"
cli="$build/src/cli/mews-export"
id=$("$cli" add --entity OrderItem)
"$cli" wait "$id" --interval 1s --timeout 30m >/dev/null
total=$((size_mb * files))

measure() {  # name, command...: best wall time of $runs and max RSS
  local name=$1 best=999999 rss=0
  shift
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    read -r secs kb <"$work/time"
    best=$(echo "$secs $best" | awk '{print ($1 < $2) ? $1 : $2}')
    rss=$kb
  done
  printf '%-40s %6.2f s  %7.1f MiB/s  max RSS %6.1f MiB\n' "$name" "$best" \
    "$(echo "$total $best" | awk '{print $1 / $2}')" "$(echo "$rss" | awk '{print $1 / 1024}')"
}

# Fresh signed URLs (valid 10 minutes) for curl; never printed.
"$cli" status --json --show-urls "$id" | jq -r '.[0].Files[].Url' >"$work/urls"
echo "export of $files x $size_mb MiB, best of $runs runs, $(nproc) cores"
measure "curl (sequential, to /dev/null)" sh -c "xargs -n1 curl -sf -o /dev/null < $work/urls"
measure "mews-export download --stdout" "$cli" download "$id" --stdout
measure "mews-export download -o (sha256, fsync)" "$cli" download "$id" -o "$work/out" --parallel 1
measure "mews-export download -o --parallel $files" "$cli" download "$id" -o "$work/out" --parallel "$files"
measure "curl (sequential, to files)" sh -c "mkdir -p $work/out && cd $work/out && xargs -n1 curl -sf -O < $work/urls"
measure "curl (parallel $files, to files)" sh -c "mkdir -p $work/out && cd $work/out && xargs -n1 -P $files curl -sf -O < $work/urls"
