# RAGChat — see README.md.
SHELL := /bin/bash
APT_PACKAGES := libsqlite3-dev libpoppler-glib-dev libespeak-ng-dev libopenblas-dev pkg-config
SWIFT ?= swift
DATA ?= data
INDEX ?= models/index.sqlite
BIN := .build/release/ragchat

.PHONY: deps models build run test bench clean

deps:
	@scripts/deps.sh $(APT_PACKAGES)

models:
	@scripts/models.sh

build: deps
	$(SWIFT) build -c release --product ragchat

run: deps models build
	$(BIN) ingest --data $(DATA) --index $(INDEX)

test: deps models
	$(SWIFT) test -c release

bench: deps models build
	scripts/bench.sh

clean:
	rm -rf .build
