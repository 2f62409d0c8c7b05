#!/usr/bin/env bash
# make bench: runs every `ragchat bench` subcommand on the release build and prints the figures
# (also saved to .build/bench/latest.txt). Record them in BENCHMARKS.md with the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/ragchat
out=.build/bench; mkdir -p "$out"
log=$out/latest.txt
{
    echo "# ragchat bench — $(date -u +%Y-%m-%dT%H:%MZ) — $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    for b in ${RAGCHAT_BENCH:-$("$bin" bench --help | awk '/^SUBCOMMANDS:/{f=1;next} f&&/^  [a-z]/{print $1}')}; do
        echo; echo "## ragchat bench $b"
        "$bin" bench "$b"
    done
} 2>&1 | tee "$log"
echo "figures saved to $log"
