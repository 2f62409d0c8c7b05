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

SERVER_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ragchat-load.XXXXXX")
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${URL:-}" ]]; then
  if [[ -z "${INDEX:-}" && -z "${RAGCHAT_SERVE_CMD:-}" ]]; then
    INDEX=$WORK/index.sqlite
    "$BIN" ingest --data "${DATA:-data}" --index "$INDEX" >/dev/null
  fi
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [[ -n "${RAGCHAT_SERVE_CMD:-}" ]]; then CMD=${RAGCHAT_SERVE_CMD//\{port\}/$PORT}
  else CMD="$BIN serve --host 127.0.0.1 --port $PORT --index $INDEX --audio-cache $WORK/audio-cache"; fi
  export RAGCHAT_MAX_CONCURRENT=${RAGCHAT_MAX_CONCURRENT:-${MAX_CONCURRENT:-2}}
  export RAGCHAT_MAX_QUEUE=${RAGCHAT_MAX_QUEUE:-${MAX_QUEUE:-16}}
  setsid bash -c "exec $CMD" > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$PORT"
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health" || true)" == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "load: server exited"; tail -20 "$OUT/server.log"; exit 1; }
    sleep 1
  done
fi
echo "load: $CONNECTIONS clients, ${DURATION}s against $URL/chat (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 60s --latency -s scripts/load.lua "$URL/chat" | tee "$OUT/load.txt"
curl -s "$URL/metrics" | grep -E '^ragchat_http_requests_total\{route="/chat"' || true
