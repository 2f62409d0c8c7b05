#!/usr/bin/env bash
# Load test: 8 concurrent clients on loopback against POST /chat for DURATION seconds (wrk).
#   scripts/load.sh                                  # ingests data/ into a temporary index, starts .build/release/ragchat serve
#   INDEX=models/index.sqlite scripts/load.sh        # an existing index
#   RAGCHAT_SERVE_CMD="cmd --port {port}" scripts/load.sh
#   URL=http://127.0.0.1:8080 scripts/load.sh        # an already running server
# LOAD_UNIQUE=1 makes every question unique (no audio cache hits). Output in .build/load/.
# The server gets RAGCHAT_MAX_CONCURRENT=${MAX_CONCURRENT:-2} and RAGCHAT_MAX_QUEUE=${MAX_QUEUE:-16}
# (8 clients fit in the queue: no 503) unless set in the environment.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-8}
BIN=${BIN:-.build/release/ragchat}
OUT=.build/load
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install -y wrk)"; exit 1; }
mkdir -p "$OUT"

NAME=load
source scripts/serve-lib.sh
if [[ -z "${URL:-}" ]]; then
  [[ -n "${RAGCHAT_SERVE_CMD:-}" ]] || ensure_index
  export RAGCHAT_MAX_CONCURRENT=${RAGCHAT_MAX_CONCURRENT:-${MAX_CONCURRENT:-2}}
  export RAGCHAT_MAX_QUEUE=${RAGCHAT_MAX_QUEUE:-${MAX_QUEUE:-16}}
  CMD="$BIN serve --host 127.0.0.1 --port {port} --index ${INDEX:-} --audio-cache {work}/audio-cache --rate-limit 0"
  serve_start "${RAGCHAT_SERVE_CMD:-$CMD}"
fi
echo "load: $CONNECTIONS clients, ${DURATION}s against $URL/chat (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 60s --latency -s scripts/load.lua "$URL/chat" | tee "$OUT/load.txt"
curl -s "$URL/metrics" | grep -E '^ragchat_http_requests_total\{route="/chat"' || true
