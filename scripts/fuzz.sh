#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets of Fuzz/ (declared in Package.swift only when
# RAGCHAT_FUZZ is set) with -sanitize=fuzzer,address, then runs each for FUZZ_SECONDS (default 600),
# one after another, at nice 19. Corpus, crash/timeout/OOM artifacts and log of target T in
# .build/fuzz/T/; seeds from Fuzz/seeds/T (regenerate with Fuzz/make-seeds.py).
# FUZZ_TARGETS picks targets (default all), e.g. FUZZ_TARGETS="GGUF Requests" FUZZ_SECONDS=60 make fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
SECS=${FUZZ_SECONDS:-600}
TARGETS=${FUZZ_TARGETS:-GGUF Safetensors E5File Tokenizers Documents Requests}
BUILD=(-c debug --scratch-path "${FUZZ_SCRATCH:-.build-fuzz}" -Xswiftc -sanitize=fuzzer,address)
export RAGCHAT_FUZZ=1
# Swift's crash backtracer would race libFuzzer's and ASan's handlers (and trip ASan); libFuzzer
# then prints the trap's stack and writes the artifact itself.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=no}

# Longest input per target: room for the seeds and a few mutations beyond.
max_len() {
    case $1 in
        GGUF|E5File) echo 16384 ;;
        Documents) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

for t in $TARGETS; do
    echo "fuzz: building Fuzz$t"
    nice -n 19 "$SWIFT" build "${BUILD[@]}" --product "Fuzz$t" || exit 1
done
BIN=$("$SWIFT" build "${BUILD[@]}" --show-bin-path)

failed=0
summary=()
for t in $TARGETS; do
    dir=.build/fuzz/$t
    mkdir -p "$dir/corpus"
    echo "fuzz: Fuzz$t for ${SECS}s (log $dir/log)"
    nice -n 19 "$BIN/Fuzz$t" -max_total_time="$SECS" -max_len="$(max_len "$t")" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" "Fuzz/seeds/$t" > "$dir/log" 2>&1
    status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$dir/log" | tail -1 | cut -d' ' -f2)
    crashes=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -newer "$dir/corpus" | wc -l)
    touch "$dir/corpus"
    [ "$status" -ne 0 ] && failed=1
    summary+=("$(printf '%-12s exit %-3s execs %-10s exec/s %-7s cov %-6s ft %-6s crashes %s' \
        "$t" "$status" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "$crashes")")
done
echo
printf '%s\n' "${summary[@]}"
find .build/fuzz -maxdepth 2 \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) -print
exit $failed
