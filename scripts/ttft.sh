#!/usr/bin/env bash
# Time to first token of /chat/stream answers over HTTP, as a browser sees them.
#   scripts/ttft.sh                         # ingests data/ into a temporary index, starts .build/release/ragchat serve
#   ROUNDS=3 scripts/ttft.sh                # each of the three test questions 3 times (default 2)
#   URL=http://127.0.0.1:8080 scripts/ttft.sh   # an already running server
# Extra `ragchat serve` flags go in SERVE_ARGS (e.g. SERVE_ARGS="--model models/decoder/X.gguf").
# The server runs with the default backends (no API configured: the extractive answer; SERVE_ARGS="--model F"
# for a local model) and no
# audio cache on disk, so every answer is generated and spoken anew. Output in .build/ttft/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}
BIN=${BIN:-.build/release/ragchat}
OUT=.build/ttft
mkdir -p "$OUT"

NAME=ttft
source scripts/serve-lib.sh
if [[ -z "${URL:-}" ]]; then
  ensure_index
  serve_start "$BIN serve --host 127.0.0.1 --port {port} --index $INDEX --audio-cache '' --rate-limit 0 ${SERVE_ARGS:-}"
fi
echo "ttft: $URL, $ROUNDS rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$URL" "$ROUNDS" <<'EOF' | tee "$OUT/ttft.txt"
import json, statistics, sys, time, urllib.request
url, rounds = sys.argv[1], int(sys.argv[2])
questions = ["Quelles sont les différentes variantes de la tarte aux pommes ?",
             "Comment faire une tarte aux pommes ?",
             "Quel est le secret d'une bonne tarte aux pommes ?"]
firsts = []
for r in range(rounds):
    for q in questions:
        req = urllib.request.Request(url + "/chat/stream", data=json.dumps({"question": q}).encode(),
                                     headers={"Content-Type": "application/json"})
        t0 = time.monotonic()
        first_token = first_answer_audio = question_audio = None
        backend, answer, event = "?", "", None
        with urllib.request.urlopen(req, timeout=120) as resp:
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    now = time.monotonic() - t0
                    data = json.loads(line[6:])
                    if event == "token" and first_token is None:
                        first_token = now
                    elif event == "audio":
                        if data["kind"] == "question" and question_audio is None: question_audio = now
                        if data["kind"] == "answer" and first_answer_audio is None: first_answer_audio = now
                    elif event == "done":
                        backend, answer = data.get("backend", "?"), data.get("answer", "")
                        break
        done = time.monotonic() - t0
        firsts.append(first_token if first_token is not None else float("nan"))
        fmt = lambda v: "-" if v is None else f"{v:.2f} s"
        print(f"[{backend}] {q}\n  first token {fmt(first_token)}, question audio {fmt(question_audio)}, "
              f"first answer audio {fmt(first_answer_audio)}, done {done:.2f} s\n  {answer!r}")
ok = [f for f in firsts if f == f]
if ok:
    print(f"first token: p50 {statistics.median(ok):.2f} s, min {min(ok):.2f} s, max {max(ok):.2f} s over {len(ok)} answers")
EOF
