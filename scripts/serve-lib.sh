# Sourced by scripts/load.sh and scripts/ttft.sh: a `ragchat serve` of their own on a free loopback
# port, stopped on exit. Callers set NAME (log prefix), BIN and OUT before sourcing; then
#   serve_start CMD_TEMPLATE   # CMD_TEMPLATE: the serve command, {port} and {work} replaced
# sets URL (and SERVER_PID). `ensure_index` ingests DATA (default data/) into a temporary index
# unless INDEX is set, and sets INDEX.
SERVER_PID=
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ragchat-$NAME.XXXXXX")
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

ensure_index() {
  if [[ -z "${INDEX:-}" ]]; then
    INDEX=$WORK/index.sqlite
    "$BIN" ingest --data "${DATA:-data}" --index "$INDEX" >/dev/null 2>&1
  fi
}

serve_start() {
  local port cmd
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cmd=${1//\{port\}/$port}
  cmd=${cmd//\{work\}/$WORK}
  setsid bash -c "exec $cmd" > "$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$port"
  for _ in $(seq 1 1200); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health" || true)" == 200 ]] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$NAME: server exited"; tail -20 "$OUT/server.log"; exit 1; }
    sleep 0.5
  done
  echo "$NAME: server not ready"; exit 1
}
