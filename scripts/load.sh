#!/usr/bin/env bash
# Load test: 8 concurrent clients on loopback against POST /chat for DURATION seconds (wrk).
#   scripts/load.sh                                  # starts .build/release/ragchat serve
#   RAGCHAT_SERVE_CMD="cmd --port {port}" scripts/load.sh
#   URL=http://127.0.0.1:8080 scripts/load.sh        # an already running server
# LOAD_UNIQUE=1 makes every question unique (no audio cache hits).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-8}
INDEX=${INDEX:-models/index.sqlite}
BIN=${BIN:-.build/release/ragchat}
command -v wrk >/dev/null || { echo "load: needs wrk (apt-get install -y wrk)"; exit 1; }
mkdir -p bench-out

if [[ -z "${URL:-}" ]]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [[ -n "${RAGCHAT_SERVE_CMD:-}" ]]; then CMD=${RAGCHAT_SERVE_CMD//\{port\}/$PORT}
  else CMD="$BIN serve --host 127.0.0.1 --port $PORT --index $INDEX"; fi
  setsid bash -c "exec $CMD" > bench-out/load-server.log 2>&1 &
  SERVER_PID=$!
  trap 'kill -TERM -- "-$SERVER_PID" 2>/dev/null || true' EXIT
  URL="http://127.0.0.1:$PORT"
  for _ in $(seq 1 600); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health" || true)" == 200 ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "load: server exited"; tail -20 bench-out/load-server.log; exit 1; }
    sleep 1
  done
fi
echo "load: $CONNECTIONS clients, ${DURATION}s against $URL/chat"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 60s --latency -s scripts/load.lua "$URL/chat" | tee bench-out/load.txt
curl -s "$URL/metrics" | grep -E '^ragchat_http_requests_total\{route="/chat"' || true
