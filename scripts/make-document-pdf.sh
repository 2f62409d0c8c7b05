#!/usr/bin/env bash
# Regenerates data/document.pdf from its groff source data/document.ms.
#   scripts/make-document-pdf.sh
# Needs the Debian package `groff` (gropdf; `groff-base` alone has no PDF output)
# and, for the check at the end, `poppler-utils` (pdfinfo, pdftotext).
# -k runs preconv (UTF-8 accents), -t runs tbl, -mfr loads French hyphenation.
# SOURCE_DATE_EPOCH is pinned to the author date of the source's last commit so the PDF is reproducible.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/data/document.ms
out=$here/data/document.pdf

if ! command -v gropdf >/dev/null 2>&1; then
    echo "make-document-pdf: gropdf not found; install it: apt-get install -y groff" >&2
    exit 1
fi
if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%at -- data/document.ms 2>/dev/null || true)
    [[ -n "$SOURCE_DATE_EPOCH" ]] || SOURCE_DATE_EPOCH=$(stat -c %Y "$src")
fi
export SOURCE_DATE_EPOCH

tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
groff -k -t -ms -mfr -Tpdf -dpaper=a4 -P-pa4 "$src" >"$tmp"
mv "$tmp" "$out"
trap - EXIT

if command -v pdfinfo >/dev/null 2>&1; then
    pages=$(pdfinfo "$out" | awk '/^Pages:/ {print $2}')
    echo "make-document-pdf: wrote $out ($pages pages)"
else
    echo "make-document-pdf: wrote $out"
fi
