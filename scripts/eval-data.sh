#!/usr/bin/env bash
# Lays out the French development corpus under .build/eval/dev-fr/ (`make eval-data`) and the
# manual pages of eval/man-fr.json under .build/eval/man-fr/ (layout_man below), from
# Debian packages installed when missing:
#   debian-faq/*.txt        debian-faq-fr        (FAQ Debian, one file per HTML chapter)
#   debian-reference/*.txt  debian-reference-fr  (Référence Debian, one file per chapter)
#   maint-guide/*.txt       maint-guide-fr       (Guide du nouveau responsable Debian)
#   lilypond/*.pdf          lilypond-doc-pdf-fr  (two real PDFs, 40 pages each, see PDFS below)
# HTML goes through scripts/html2text.py (Python stdlib only, deterministic); PDFs are cut with
# qpdf --deterministic-id. The result depends only on the package versions and on these two
# scripts: a stamp (.build/eval/dev-fr/.stamp, hidden so that ingest skips it) records them, and
# a re-run with the same stamp changes nothing. A package version other than the one the
# questions were written against (eval/dev-fr.json "sources") prints a warning.
#   scripts/eval-data.sh [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/.build/eval/dev-fr}"
set_json="$root/eval/dev-fr.json"
DOC_PACKAGES=(debian-faq-fr debian-reference-fr maint-guide-fr lilypond-doc-pdf-fr)
TOOLS=(poppler-utils qpdf python3)
LILY=/usr/share/doc/lilypond/html/Documentation
# name in the corpus : source PDF : page range in the source (book pages in brackets)
PDFS=(
    "lilypond/initiation-tutoriel.pdf:$LILY/learning.fr.pdf:20-59"  # Manuel d'initiation, ch. 2 Tutoriel, ch. 3 Bases de notation musicale, start of ch. 4 (book pages 15-54)
    "lilypond/utilisation-lilypond.pdf:$LILY/usage.fr.pdf:4-43"      # Manuel d'utilisation, ch. 1 Exécution de lilypond, ch. 2 convert-ly, ch. 3 lilypond-book (book pages 1-40)
)
# directory in the corpus : HTML directory of the package
HTML=(
    "debian-faq:/usr/share/doc/debian/FAQ/fr"
    "debian-reference:/usr/share/debian-reference"
    "maint-guide:/usr/share/doc/maint-guide-fr/html"
)

"$root/scripts/deps.sh" "${DOC_PACKAGES[@]}" "${TOOLS[@]}"

# Package versions, and the ones the questions were written against.
declare -A installed
for p in "${DOC_PACKAGES[@]}"; do
    installed[$p]=$(dpkg-query -W -f='${Version}' "$p")
done
if [[ -f $set_json ]]; then
    for p in "${DOC_PACKAGES[@]}"; do
        want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sources"].get(sys.argv[2], ""))' "$set_json" "$p")
        if [[ -n $want && $want != "${installed[$p]}" ]]; then
            echo "eval-data: WARNING: $p ${installed[$p]} is installed, the questions of eval/dev-fr.json were written against $want;" \
                 "check them with scripts/check-eval.py eval/dev-fr.json" >&2
        fi
    done
fi

stamp_text() {
    for p in "${DOC_PACKAGES[@]}"; do echo "$p ${installed[$p]}"; done
    echo "qpdf $(dpkg-query -W -f='${Version}' qpdf)"
    sha256sum "$root/scripts/eval-data.sh" "$root/scripts/html2text.py" | sed "s#  $root/#  #"
}
layout_dev() {
stamp=$(stamp_text)
if [[ -f $out/.stamp && "$(cat "$out/.stamp")" == "$stamp" ]]; then
    echo "eval-data: $out is up to date"
    return
fi

tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
for entry in "${HTML[@]}"; do
    dir=${entry%%:*} src=${entry#*:}
    mkdir -p "$tmp/$dir"
    shopt -s nullglob
    pages=("$src"/*.fr.html)
    shopt -u nullglob
    if [[ ${#pages[@]} -eq 0 ]]; then
        echo "eval-data: no *.fr.html under $src (is /usr/share/doc excluded by a dpkg path-exclude?)" >&2
        exit 1
    fi
    for html in "${pages[@]}"; do
        name=$(basename "$html" .fr.html)
        python3 "$root/scripts/html2text.py" "$html" "$tmp/$dir/$name.txt"
    done
done
mkdir -p "$tmp/lilypond"
for entry in "${PDFS[@]}"; do
    IFS=: read -r name src range <<<"$entry"
    qpdf --deterministic-id --empty --pages "$src" "$range" -- "$tmp/$name"
done
printf '%s\n' "$stamp" >"$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"

files=$(find "$out" -type f ! -name '.*' | wc -l)
text_bytes=$(( $(cat "$out"/*/*.txt | wc -c) + $(for f in "$out"/lilypond/*.pdf; do pdftotext -q "$f" -; done | wc -c) ))
echo "eval-data: laid out $files files in $out ($(awk -v b="$text_bytes" 'BEGIN { printf "%.2f", b / 1e6 }') MB of text)"
}

# The manual-page set (eval/man-fr.json) over .build/eval/man-fr/: French manual pages of
# manpages-fr rendered as a user would save them (`man -l PAGE | col -bx`, 80 columns, C.UTF-8),
# one NAME.SECTION.txt per page.
layout_man() {
local out="$root/.build/eval/man-fr"
local pages=(ls cp mv rm mkdir ln chmod chown cat head tail sort uniq wc cut grep find tar gzip df du date crontab sed
             xargs diff tee split dd nice nohup timeout stat)
"$root/scripts/deps.sh" manpages-fr man-db groff-base bsdextrautils
local version stamp want listed
version=$(dpkg-query -W -f='${Version}' manpages-fr)
want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sources"]["manpages-fr"])' "$root/eval/man-fr.json")
if [[ $want != "$version" ]]; then
    echo "eval-data: WARNING: manpages-fr $version is installed, eval/man-fr.json was written against $want;" \
         "check it with scripts/check-eval.py eval/man-fr.json" >&2
fi
stamp=$(printf '%s\n' "manpages-fr $version" "man-db $(dpkg-query -W -f='${Version}' man-db)" \
        "groff-base $(dpkg-query -W -f='${Version}' groff-base)" "${pages[*]}")
if [[ -f $out/.stamp && "$(cat "$out/.stamp")" == "$stamp" ]]; then
    echo "eval-data: $out is up to date"
    return
fi
local tmp="$out.tmp" page source
rm -rf "$tmp"
mkdir -p "$tmp"
listed=$(dpkg -L manpages-fr)
for page in "${pages[@]}"; do
    source=$(grep -E "/man/fr/man[18]/$page\.[18]\.gz$" <<<"$listed" | head -1)
    [[ -n $source ]] || { echo "eval-data: manpages-fr has no page $page" >&2; exit 1; }
    LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= man -l "$source" 2>/dev/null | col -bx >"$tmp/$(basename "$source" .gz).txt"
done
printf '%s\n' "$stamp" >"$tmp/.stamp"
rm -rf "$out"
mv "$tmp" "$out"
echo "eval-data: laid out ${#pages[@]} manual pages in $out ($(cat "$out"/*.txt | wc -c) bytes of text)"
}

layout_dev
layout_man
