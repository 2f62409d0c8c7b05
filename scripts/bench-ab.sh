#!/usr/bin/env bash
# A/B of `make bench`: every `ragchat bench` subcommand run with binary A then binary B, in one
# run, so that the host's load is shared alike. Usage: scripts/bench-ab.sh OLD_BINARY NEW_BINARY
# (copy the old release binary aside before rebuilding). Prints both outputs, subcommand by subcommand.
set -uo pipefail
cd "$(dirname "$0")/.."
A=${1:?old binary}; B=${2:?new binary}
echo "# A/B $(date -u +%FT%TZ) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "# A = $A, B = $B"
for b in ${RAGCHAT_BENCH:-$("$B" bench --help | awk '/^SUBCOMMANDS:/{f=1;next} f&&/^  [a-z]/{print $1}')}; do
    for side in A B; do
        exe=${!side}
        echo; echo "## $side: ragchat bench $b"
        start=$(date +%s)
        "$exe" bench "$b" 2>/dev/null
        echo "($side $b: $(( $(date +%s) - start )) s)"
    done
done
