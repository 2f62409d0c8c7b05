#!/usr/bin/env bash
# End-to-end test of the product as a user sees it (`make e2e`):
#   1. ingests data/ into a temporary index (unless INDEX is given),
#   2. starts `ragchat serve` on a free loopback port (own process group),
#   3. opens the chat page in headless Chromium through WebDriver (scripts/e2e.py), types the
#      question and presses Enter, checks that the answer, its sources and two loaded audio
#      elements (question + answer) appear, and saves screenshots (desktop and phone width),
#   4. uploads a PDF through the documents panel (desktop and phone width), asks what only its
#      page 3 says, checks the citation opens page 3, the kept conversation and its reset, a
#      dropped file, and deletes both through the page,
#   5. restarts the server with a key and does the chat and upload runs again with it,
#   6. stops the server.
#
#   scripts/e2e.sh                               # .build/release/ragchat (make e2e builds it)
#   INDEX=models/index.sqlite scripts/e2e.sh     # an existing index
#   RAGCHAT_SERVE_CMD="cmd --port {port}" scripts/e2e.sh   # any server command; {port} is replaced
#
# Needs the Debian packages chromium and chromium-driver (installed by `make e2e` when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.build/release/ragchat}
DATA=${DATA:-data}
QUESTION=${QUESTION:-"Comment faire une tarte aux pommes ?"}
EXPECT_FILE=${EXPECT_FILE:-connaissances.txt}
OUT=${E2E_OUT:-.build/e2e}
mkdir -p "$OUT"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ragchat-e2e.XXXXXX")
SERVER_PID=
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [[ -z "${INDEX:-}" && -z "${RAGCHAT_SERVE_CMD:-}" ]]; then
  INDEX=$WORK/index.sqlite
  echo "e2e: ingesting $DATA into $INDEX"
  "$BIN" ingest --data "$DATA" --index "$INDEX"
fi
INDEX=${INDEX:-models/index.sqlite}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if [[ -n "${RAGCHAT_SERVE_CMD:-}" ]]; then
  CMD=${RAGCHAT_SERVE_CMD//\{port\}/$PORT}
else
  # A copy of the data folder: the documents run uploads to it and deletes from it.
  cp -r "$DATA" "$WORK/data"
  CMD="$BIN serve --host 127.0.0.1 --port $PORT --index $INDEX --data $WORK/data --audio-cache $WORK/audio-cache"
fi

LOG=$OUT/server.log
URL="http://127.0.0.1:$PORT/"
# Starts $CMD in its own process group (setsid), so the server can be stopped by its id, and
# waits until /health answers 200.
start_server() {
  echo "e2e: starting: $CMD"
  setsid bash -c "exec $CMD" >"$LOG" 2>&1 &
  SERVER_PID=$!
  local code=000
  for _ in $(seq 1 "${E2E_START_TIMEOUT:-300}"); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "e2e: server exited:"; tail -30 "$LOG"; exit 1; fi
    code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}health" || true)
    [[ "$code" == 200 ]] && break
    sleep 1
  done
  [[ "$code" == 200 ]] || { echo "e2e: server not healthy (last status $code)"; tail -30 "$LOG"; exit 1; }
  echo "e2e: server ready at $URL"
}
stop_server() {
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  SERVER_PID=
}
start_server

ARGS=(--question "$QUESTION")
[[ -n "$EXPECT_FILE" ]] && ARGS+=(--expect-file "$EXPECT_FILE")
status=0
python3 scripts/e2e.py "$URL" "${ARGS[@]}" --width 1280 --height 900 --screenshot "$OUT/screenshot.png" || status=1
python3 scripts/e2e.py "$URL" "${ARGS[@]}" --width 390 --height 844 --screenshot "$OUT/screenshot-phone.png" || status=1
if [[ $status -ne 0 ]]; then echo "e2e: FAILED (server log: $LOG)"; tail -20 "$LOG"; exit 1; fi

# Documents managed from the page: a PDF uploaded through the documents panel is indexed in the
# background, answers a question only it answers, its citation opens it at the right page; then
# it is deleted through the page. Desktop and phone widths. Only for the built-in server command.
if [[ -z "${RAGCHAT_SERVE_CMD:-}" ]]; then
  PDF=$WORK/refuge-lac-vert.pdf
  python3 scripts/e2e-pdf.py "$PDF"
  UPLOAD=(--upload "$PDF" --expect-page 3 --question "Comment s'appelle le gardien du refuge du lac Vert ?")
  python3 scripts/e2e.py "$URL" "${UPLOAD[@]}" --width 1280 --height 900 --screenshot "$OUT/upload.png" || status=1
  python3 scripts/e2e.py "$URL" "${UPLOAD[@]}" --width 390 --height 844 --screenshot "$OUT/upload-phone.png" || status=1
  if [[ $status -ne 0 ]]; then echo "e2e: FAILED with an uploaded document (server log: $LOG)"; tail -20 "$LOG"; exit 1; fi
fi

# The same server with a client key (RAGCHAT_SERVER_KEY): the page must ask for it, then
# answer and play the clips it fetches with the key. Only for the built-in server command.
if [[ -z "${RAGCHAT_SERVE_CMD:-}" ]]; then
  stop_server
  KEY=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
  export RAGCHAT_SERVER_KEY=$KEY
  start_server
  unset RAGCHAT_SERVER_KEY
  python3 scripts/e2e.py "$URL" "${ARGS[@]}" --key "$KEY" --width 1280 --height 900 --screenshot "$OUT/screenshot-key.png" || status=1
  python3 scripts/e2e.py "$URL" "${UPLOAD[@]}" --key "$KEY" --width 1280 --height 900 --screenshot "$OUT/upload-key.png" || status=1
  if [[ $status -ne 0 ]]; then echo "e2e: FAILED with a server key (server log: $LOG)"; tail -20 "$LOG"; exit 1; fi
fi
echo "e2e: passed; screenshots in $OUT/"
