#!/usr/bin/env bash
# End-to-end test: start `ragchat serve` on a free loopback port, open the chat page in headless
# Chromium (WebDriver), ask a question, check answer + sources + two loaded audio elements, save a
# screenshot to bench-out/e2e.png, stop the server.
#
#   scripts/e2e.sh                      # uses .build/release/ragchat serve --index $INDEX
#   RAGCHAT_SERVE_CMD="cmd --port {port}" scripts/e2e.sh   # any server command; {port} is replaced
#
# Needs the Debian packages chromium and chromium-driver.
set -euo pipefail
cd "$(dirname "$0")/.."

INDEX=${INDEX:-models/index.sqlite}
BIN=${BIN:-.build/release/ragchat}
QUESTION=${QUESTION:-"Quel est le secret d'une bonne tarte aux pommes ?"}
EXPECT_FILE=${EXPECT_FILE:-}
SCREENSHOT=${SCREENSHOT:-bench-out/e2e.png}
mkdir -p bench-out

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [[ -n "${RAGCHAT_SERVE_CMD:-}" ]]; then
  CMD=${RAGCHAT_SERVE_CMD//\{port\}/$PORT}
else
  CMD="$BIN serve --host 127.0.0.1 --port $PORT --index $INDEX"
fi

LOG=bench-out/e2e-server.log
echo "e2e: starting: $CMD"
# Own process group, so the whole server tree can be stopped by its id.
setsid bash -c "exec $CMD" >"$LOG" 2>&1 &
SERVER_PID=$!
stop_server() {
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
}
trap stop_server EXIT

URL="http://127.0.0.1:$PORT/"
for i in $(seq 1 ${E2E_START_TIMEOUT:-600}); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "e2e: server exited:"; tail -30 "$LOG"; exit 1; fi
  code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}health" || true)
  [[ "$code" == 200 ]] && break
  sleep 1
done
[[ "$code" == 200 ]] || { echo "e2e: server not healthy (last status $code)"; tail -30 "$LOG"; exit 1; }
echo "e2e: server ready at $URL"

ARGS=(--question "$QUESTION" --screenshot "$SCREENSHOT")
[[ -n "$EXPECT_FILE" ]] && ARGS+=(--expect-file "$EXPECT_FILE")
python3 scripts/e2e.py "$URL" "${ARGS[@]}"
