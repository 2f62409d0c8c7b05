#!/usr/bin/env python3
"""Checks Tests/IndexTests/Resources/questions_fr.json against the documents in data/.

For every question: the file exists, `expected` is 10-60 characters and occurs verbatim in the
document text with whitespace collapsed (plain text for .txt; `pdftotext` for .pdf, on the stated
page, in both reading-order and -layout modes, and inside a single line so that no line break,
hyphenation or page boundary is involved). Also checks the set itself (>= 24 questions, the three
acceptance questions, >= 8 on the PDF) and that the PDF repeats its running header on every page.
Needs poppler-utils (pdftotext). Exit status 1 on any failure.
    scripts/check-questions.py [QUESTIONS_JSON] [DATA_DIR]
"""
import json, re, subprocess, sys, unicodedata
from pathlib import Path

root = Path(__file__).resolve().parent.parent
qpath = Path(sys.argv[1]) if len(sys.argv) > 1 else root / "Tests/IndexTests/Resources/questions_fr.json"
data = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "data"
ACCEPTANCE = [
    "Quelles sont les différentes variantes de la tarte aux pommes ?",
    "Comment faire une tarte aux pommes ?",
    "Quel est le secret d'une bonne tarte aux pommes ?",
]
failures = []

def fail(msg):
    failures.append(msg)
    print("FAIL", msg)

def collapse(s):
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", s)).strip()

def pdf_pages(path, layout):
    args = ["pdftotext"] + (["-layout"] if layout else []) + [str(path), "-"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages

questions = json.loads(qpath.read_text(encoding="utf-8"))["questions"]
texts, pdfs = {}, {}
for name in sorted({q["file"] for q in questions}):
    p = data / name
    if not p.is_file():
        fail(f"{name}: no such file in {data}")
    elif name.endswith(".pdf"):
        pdfs[name] = {mode: pdf_pages(p, mode == "layout") for mode in ("raw", "layout")}
    else:
        texts[name] = p.read_text(encoding="utf-8")

for i, q in enumerate(questions, 1):
    name, page, exp = q["file"], q["page"], q["expected"]
    tag = f"#{i} {q['question']!r}"
    if not 10 <= len(exp) <= 60:
        fail(f"{tag}: expected has {len(exp)} characters (10-60)")
    if exp != collapse(exp):
        fail(f"{tag}: expected is not NFC / has stray whitespace")
    if name in texts:
        if page is not None:
            fail(f"{tag}: page must be null for {name}")
        n = collapse(texts[name]).count(exp)
        if n == 0:
            fail(f"{tag}: {exp!r} not found in {name}")
        elif n > 1:
            print(f"note {tag}: {exp!r} occurs {n} times in {name}")
    elif name in pdfs:
        for mode, pages in pdfs[name].items():
            if not isinstance(page, int) or not 1 <= page <= len(pages):
                fail(f"{tag}: page {page} not in 1...{len(pages)}")
                break
            if exp not in collapse(pages[page - 1]):
                where = [k + 1 for k, t in enumerate(pages) if exp in collapse(t)]
                fail(f"{tag}: {exp!r} not on page {page} of {name} ({mode}); found on pages {where}")
                continue
            if not any(exp in collapse(line) for line in pages[page - 1].splitlines()):
                fail(f"{tag}: {exp!r} spans a line break on page {page} ({mode})")
            others = [k + 1 for k, t in enumerate(pages) if k + 1 != page and exp in collapse(t)]
            if others and mode == "raw":
                print(f"note {tag}: {exp!r} also on pages {others}")

# The set itself.
asked = [q["question"] for q in questions]
for a in ACCEPTANCE:
    if a not in asked:
        fail(f"acceptance question missing: {a!r}")
if len(questions) < 24:
    fail(f"only {len(questions)} questions (>= 24)")
npdf = sum(q["file"].endswith(".pdf") for q in questions)
if npdf < 8:
    fail(f"only {npdf} questions on a PDF (>= 8)")
npar = sum(bool(q.get("paraphrased")) for q in questions)

# Running header: the same first line on every page of every PDF.
for name, modes in pdfs.items():
    firsts = {next((l.strip() for l in t.splitlines() if l.strip()), "") for t in modes["raw"]}
    if len(firsts) != 1:
        fail(f"{name}: first lines differ between pages: {sorted(firsts)}")

print(f"{len(questions)} questions ({len(questions) - npdf} text, {npdf} PDF, {npar} paraphrased): "
      + ("OK" if not failures else f"{len(failures)} failure(s)"))
sys.exit(1 if failures else 0)
