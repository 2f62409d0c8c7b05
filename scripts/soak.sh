#!/usr/bin/env bash
# Long robustness runs (`make soak`), each printing its figures for BENCHMARKS.md:
#   1. ingest killed with SIGKILL at KILLS (default 20) random moments while files are added,
#      modified and deleted; then a clean run: integrity_check ok, and the same documents and
#      chunks as a fresh ingest of the same folder;
#   2. bad documents (a BIG_MB (default 200) MB text file, truncated, zero-byte and fake PDFs,
#      binary named .txt, invalid UTF-8, a symbolic-link loop): a message naming each bad file,
#      no crash, and the peak RSS of the ingest;
#   3. soak: 8 clients × SOAK_SECONDS (default 60) on /chat (extractive), then 4 clients with the
#      local model (MODEL, default Gemma 3 270M): errors other than 503/429, RSS and open file
#      descriptors sampled every 5 s (flat within 10 % after warm-up).
#   scripts/soak.sh [kills|documents|serve]...   # default: all three
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build/release/ragchat}
OUT=.build/soak
KILLS=${KILLS:-20}
BIG_MB=${BIG_MB:-200}
SOAK_SECONDS=${SOAK_SECONDS:-60}
MODEL=${MODEL:-models/decoder/gemma-3-270m-q4_k_m.gguf}
mkdir -p "$OUT"
NAME=soak
source scripts/serve-lib.sh
echo "soak: CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Documents and chunks of an index, one line each, sorted: what two indexes must share.
index_content() {
  sqlite3 "$1" "SELECT d.path || '|' || d.sha256 || '|' || c.ordinal || '|' || c.text FROM chunks c JOIN documents d ON d.id = c.document_id
                WHERE d.status = 'indexed' ORDER BY d.path, c.ordinal" | sha256sum | cut -d' ' -f1
}

kills() {
  local data=$WORK/kill-data index=$WORK/kill.sqlite killed=0 finished=0
  mkdir -p "$data"
  python3 - "$data" <<'EOF'
import os, sys
d = sys.argv[1]
para = "La tarte aux pommes normande se prépare avec une pâte brisée et de la crème. "
for n in range(60):
    with open(os.path.join(d, f"f{n:03d}.txt"), "w") as f:
        f.write("\n\n".join(f"Fichier {n}, paragraphe {p}. " + para for p in range(200)))
EOF
  for round in $(seq 1 "$KILLS"); do
    # A change of each kind, then an ingest killed after a random delay.
    python3 - "$data" "$round" <<'EOF'
import os, random, sys
d, r = sys.argv[1], int(sys.argv[2])
random.seed(r)
files = sorted(os.listdir(d))
if files:
    os.remove(os.path.join(d, random.choice(files)))
    files = sorted(os.listdir(d))
    with open(os.path.join(d, random.choice(files)), "a") as f:
        f.write("".join(f"\n\nAjout {p} du tour {r} : la crème fraîche épaisse accompagne la tarte." for p in range(1500)))
with open(os.path.join(d, f"new{r:03d}.txt"), "w") as f:
    f.write("\n\n".join(f"Nouveau fichier {r}, paragraphe {p}. Le four chauffe à 180 degrés." for p in range(3000)))
EOF
    "$BIN" ingest --data "$data" --index "$index" --no-vectors >/dev/null 2>&1 &
    local pid=$!
    sleep "$(python3 -c "import random; random.seed($round * 7); print(round(random.uniform(0.01, 0.5), 3))")"
    if kill -KILL "$pid" 2>/dev/null; then killed=$((killed + 1)); else finished=$((finished + 1)); fi
    wait "$pid" 2>/dev/null || true
    local check
    check=$(sqlite3 "$index" "PRAGMA integrity_check" 2>&1 || true)
    [[ "$check" == "ok" || ! -f "$index" ]] || { echo "soak kills: round $round: integrity_check: $check"; exit 1; }
  done
  "$BIN" ingest --data "$data" --index "$index" --no-vectors > "$OUT/kills-resume.txt" 2>&1
  rm -f "$WORK/fresh.sqlite"
  "$BIN" ingest --data "$data" --index "$WORK/fresh.sqlite" --no-vectors >/dev/null 2>&1
  local a b orphans
  a=$(index_content "$index"); b=$(index_content "$WORK/fresh.sqlite")
  orphans=$(sqlite3 "$index" "SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)")
  echo "soak kills: $KILLS rounds (add + modify + delete each), $killed killed mid-ingest, $finished finished before the kill;" \
       "integrity ok every round; orphan chunks $orphans; resumed index $( [[ $a == "$b" ]] && echo equals || echo DIFFERS FROM ) a fresh ingest" \
       "($(sqlite3 "$index" "SELECT count(*) FROM documents"), $(sqlite3 "$index" "SELECT count(*) FROM chunks") chunks)"
  [[ $a == "$b" && $orphans == 0 ]] || exit 1
}

documents() {
  local data=$WORK/bad-data
  mkdir -p "$data/loop"
  python3 - "$data" "$BIG_MB" <<'EOF'
import os, random, sys
d, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = ("la tarte aux pommes se prépare avec une pâte brisée le four chauffe les paquets Debian s'installent avec apt "
         "la commande dpkg liste les fichiers du système").split()
with open(os.path.join(d, "gros.txt"), "w") as f:
    size, n = 0, 0
    while size < mb << 20:
        para = " ".join(random.choice(words) for _ in range(random.randint(30, 120))) + f" (paragraphe {n})."
        if n % 50 == 0:
            para = f"Section {n // 50}\n\n" + para
        f.write(para + "\n\n"); size += len(para.encode()) + 2; n += 1
open(os.path.join(d, "vide.pdf"), "wb").close()
with open(os.path.join(d, "faux.pdf"), "w") as f: f.write("ceci n'est pas un PDF")
with open(os.path.join(d, "coupé.pdf"), "wb") as f: f.write(b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pa")
with open(os.path.join(d, "binaire.txt"), "wb") as f: f.write(bytes(random.randrange(256) for _ in range(65536)))
with open(os.path.join(d, "latin1.txt"), "wb") as f: f.write("Crème brûlée, café, déjà.\n".encode("latin-1") * 100)
with open(os.path.join(d, "invalide.md"), "wb") as f: f.write(b"# Titre\n\nDu texte \xff\xfe puis \xc3 coup\xe9.\n")
os.symlink("..", os.path.join(d, "loop", "parent"))
os.symlink(os.path.join(d, "loop"), os.path.join(d, "loop", "self"))
EOF
  /usr/bin/time -v "$BIN" ingest --data "$data" --index "$WORK/bad.sqlite" --no-vectors > "$OUT/documents.txt" 2> "$OUT/documents.err" || true
  grep -E "^(error|warning):" "$OUT/documents.err" | head -12 || true
  local rss seconds
  rss=$(awk '/Maximum resident set size/ {print int($6 / 1024)}' "$OUT/documents.err")
  seconds=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$OUT/documents.err")
  echo "soak documents: ${BIG_MB} MB text file + 6 bad files + a link loop: peak RSS ${rss} MB, ${seconds} wall" \
       "($(sqlite3 "$WORK/bad.sqlite" "SELECT count(*) FROM chunks") chunks; failed: $(sqlite3 "$WORK/bad.sqlite" "SELECT group_concat(path || ' (' || error || ')', '; ') FROM documents WHERE status = 'failed'"))"
}

# Samples RSS (MB) and open descriptors of the server every 5 s into $1 while wrk runs.
sample() {
  local pid=$1 file=$2
  : > "$file"
  while kill -0 "$pid" 2>/dev/null; do
    echo "$(awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$pid/status") $(ls "/proc/$pid/fd" | wc -l)" >> "$file"
    sleep 5
  done
}

soak_run() {
  local label=$1 clients=$2 cmd=$3
  serve_start "$cmd"
  local server
  server=$(pgrep -f -n "serve --host 127.0.0.1 --port ${URL##*:}")
  sample "$server" "$OUT/$label-samples.txt" &
  local sampler=$!
  wrk -t2 -c"$clients" -d"${SOAK_SECONDS}s" --timeout 120s --latency -s scripts/load.lua "$URL/chat" > "$OUT/$label-wrk.txt"
  kill "$sampler" 2>/dev/null || true
  local requests non2xx
  requests=$(awk '/requests in/ {print $1}' "$OUT/$label-wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$OUT/$label-wrk.txt"); non2xx=${non2xx:-0}
  local statuses
  statuses=$(curl -s "$URL/metrics" | grep -E '^ragchat_http_requests_total\{route="/chat"' | sed -E 's/.*status="([0-9]+)".* ([0-9.e+]+)$/\1:\2/' | tr '\n' ' ')
  python3 - "$OUT/$label-samples.txt" "$label" "$clients" "$SOAK_SECONDS" "$requests" "$non2xx" "$statuses" <<'EOF'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
label, clients, seconds, requests, non2xx, statuses = sys.argv[2:8]
warm = rows[2:] or rows            # after 10 s of warm-up
rss = [r[0] for r in warm]; fds = [r[1] for r in warm]
drift = (rss[-1] - rss[0]) / rss[0] * 100 if rss and rss[0] else 0
print(f"soak {label}: {clients} clients × {seconds} s: {requests} answers, non-2xx {non2xx} (statuses {statuses.strip()}); "
      f"RSS after warm-up {rss[0]} → {rss[-1]} MB (max {max(rss)}, drift {drift:+.1f} %); open fds {fds[0]} → {fds[-1]} (max {max(fds)})")
EOF
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  SERVER_PID=
}

serve() {
  ensure_index
  export RAGCHAT_MAX_QUEUE=${RAGCHAT_MAX_QUEUE:-32}
  soak_run extractive 8 "$BIN serve --host 127.0.0.1 --port {port} --index $INDEX --audio-cache {work}/audio-cache --rate-limit 0 --backends extractive"
  if [[ -f "$MODEL" ]]; then
    soak_run local 4 "$BIN serve --host 127.0.0.1 --port {port} --index $INDEX --audio-cache {work}/audio-cache --rate-limit 0 --backends local,extractive --model $MODEL"
  else
    echo "soak local: skipped, no model at $MODEL (make models)"
  fi
}

parts=("$@")
[[ ${#parts[@]} -gt 0 ]] || parts=(kills documents serve)
for part in "${parts[@]}"; do "$part"; done
