#!/usr/bin/env python3
"""Checks a question set (eval/dev-fr.json, eval/man-fr.json, eval/apple-fr.json) against its laid-out corpus.

    scripts/check-eval.py SET.json [CORPUS_DIR] [-v]

Per question:
- ids unique, class one of lookup / paraphrase / synthesis / offtopic;
- covered questions: the file exists; `page` is null for text files and a page of the PDF;
  `expected` (and `expected2`, required for synthesis questions, and every `alt` entry) is 10-60
  characters, NFC, without stray whitespace, and occurs verbatim in the file with whitespace
  collapsed (text files normalised like TextNormalizer) or on the stated page of the PDF, in both
  `pdftotext` raw and -layout modes and inside one line (no line break, hyphenation or page
  boundary involved); `expected2` lies within 1,600 characters of `expected` (the same or the next
  chunk region);
- `answer`: 1-3 regexes (up to 6 for questions marked "acceptance"), Python-compilable, no Python-only syntax (ICU/NSRegularExpression must
  take them); matched case- and accent-insensitively. Together they match the question's own
  `reference` (a one-sentence correct answer) and do not all match the reference of any other
  question (an over-broad key would accept wrong answers; the long references of the acceptance
  questions are not used as counter-examples);
- paraphrase questions of dev-fr and man-fr share at most 50 % of their content words (crude stems) with the
  evidence (300 characters around `expected`/`expected2`); the ratio is printed for every covered
  question with -v (apple-fr keeps the `paraphrased` flags of its source, so there it is only shown);
- off-topic questions have no file/expected/answer, and no paragraph of the corpus holds more than
  60 % of their content words (their words do not co-occur where an answer could be).
The set as a whole: counts per class and per source (thresholds for dev-fr, man-fr and apple-fr below).
Needs poppler-utils (pdftotext). Exit status 1 on any failure.
"""
import math
import re
import sys
from collections import Counter, defaultdict

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from evalset import (Corpus, answers, collapse, compile_answer, content_words, corpus_dir,  # noqa: E402
                     load_set, stem)

args = [a for a in sys.argv[1:] if not a.startswith("-")]
verbose = "-v" in sys.argv[1:]
if not args:
    sys.exit(__doc__)
data, questions = load_set(args[0])
corpus = Corpus(corpus_dir(data, args[1] if len(args) > 1 else None))
CLASSES = ("lookup", "paraphrase", "synthesis", "offtopic")
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL", msg)


def locate(tag, name, page, exp, what="expected"):
    """Checks one extract; returns (collapsed unit text, offset) in raw mode, or None."""
    if not isinstance(exp, str) or not 10 <= len(exp) <= 60:
        fail(f"{tag}: {what} must be 10-60 characters: {exp!r}")
        return None
    if exp != collapse(exp):
        fail(f"{tag}: {what} is not NFC or has stray whitespace: {exp!r}")
        return None
    if not corpus.exists(name):
        fail(f"{tag}: no such file {name} in {corpus.root}")
        return None
    if name.endswith(".pdf"):
        found = None
        for layout in (False, True):
            mode = "layout" if layout else "raw"
            pages = corpus.pages(name, layout)
            if not isinstance(page, int) or not 1 <= page <= len(pages):
                fail(f"{tag}: page {page!r} not in 1...{len(pages)} of {name}")
                return None
            text = collapse(pages[page - 1])
            if exp not in text:
                where = [k + 1 for k, t in enumerate(pages) if exp in collapse(t)]
                fail(f"{tag}: {what} {exp!r} not on page {page} of {name} ({mode}); found on pages {where}")
                continue
            if not any(exp in collapse(line) for line in pages[page - 1].splitlines()):
                fail(f"{tag}: {what} {exp!r} spans a line break on page {page} ({mode})")
            if not layout:
                found = (text, text.index(exp))
        return found
    if page is not None:
        fail(f"{tag}: page must be null for {name}")
    text = collapse(corpus.text(name))
    n = text.count(exp)
    if n == 0:
        fail(f"{tag}: {what} {exp!r} not found in {name}")
        return None
    if n > 1 and verbose:
        print(f"note {tag}: {what} {exp!r} occurs {n} times in {name}")
    return text, text.index(exp)


def check_regexes(tag, patterns, most=3):
    if not isinstance(patterns, list) or not 1 <= len(patterns) <= most:
        fail(f"{tag}: answer must be a list of 1-{most} regexes")
        return False
    ok = True
    for p in patterns:
        if re.search(r"\(\?P|\(\?[aiLmsux]+\)|\\[AZz]\b|\(\?#", p):
            fail(f"{tag}: regex {p!r} uses Python-only or inline-flag syntax")
            ok = False
        try:
            compile_answer(p)
        except re.error as error:
            fail(f"{tag}: regex {p!r} does not compile: {error}")
            ok = False
    return ok


ids = Counter(q.get("id") for q in questions)
for i, n in ids.items():
    if n > 1 or not i:
        fail(f"id {i!r} used {n} times")

covered = [q for q in questions if q.get("class") != "offtopic"]
overlaps = {}
for q in questions:
    tag = f"{q.get('id')} {q.get('question')!r}"
    cls = q.get("class")
    if cls not in CLASSES:
        fail(f"{tag}: class {cls!r} not one of {CLASSES}")
        continue
    if not q.get("question", "").strip():
        fail(f"{tag}: empty question")
    if cls == "offtopic":
        for key in ("file", "expected", "expected2", "answer", "alt"):
            if q.get(key):
                fail(f"{tag}: an off-topic question has no {key}")
        continue
    name, page = q.get("file", ""), q.get("page")
    first = locate(tag, name, page, q.get("expected"))
    windows = []
    if first:
        windows.append(first)
    if cls == "synthesis" or "expected2" in q:
        if cls != "synthesis":
            fail(f"{tag}: expected2 is for synthesis questions only")
        second = locate(tag, name, page, q.get("expected2"), "expected2")
        if first and second:
            distance = abs(second[1] - first[1])
            if distance > 1600:
                fail(f"{tag}: expected and expected2 are {distance} characters apart (> 1600)")
            windows.append(second)
    for k, a in enumerate(q.get("alt", []) or []):
        locate(f"{tag} alt[{k}]", a.get("file", ""), a.get("page"), a.get("expected"))
    patterns = q.get("answer")
    reference = q.get("reference", "")
    # The acceptance questions (apple-fr) list several facts: up to 6 keys.
    if check_regexes(tag, patterns, 6 if q.get("acceptance") else 3):
        if not reference:
            fail(f"{tag}: no reference answer")
        elif not answers(patterns, reference):
            fail(f"{tag}: answer regexes {patterns} do not match the reference {reference!r}")
    # Word overlap with the evidence.
    qwords = {stem(w) for w in content_words(q["question"])}
    evidence = set()
    for text, offset in windows:
        start = max(0, offset - 300)
        evidence |= {stem(w) for w in content_words(text[start:offset + 360])}
    if qwords and windows:
        ratio = len(qwords & evidence) / len(qwords)
        overlaps[q["id"]] = ratio
        if verbose:
            print(f"overlap {q['id']} {cls:10s} {ratio:4.0%} shared {sorted(qwords & evidence)}")
        if cls == "paraphrase" and ratio > 0.5 and data.get("name") in ("dev-fr", "man-fr"):
            fail(f"{tag}: paraphrase shares {ratio:.0%} of its content words with the evidence "
                 f"({sorted(qwords & evidence)}); reword it or call it lookup")

# Over-broad answer keys: a key must not accept another question's reference.
for q in covered:
    patterns = q.get("answer")
    try:
        [compile_answer(p) for p in patterns or []]
    except re.error:
        continue
    if not patterns:
        continue
    for other in covered:
        # A reference listing many facts (acceptance questions) is no wrong answer to the others.
        if other is q or not other.get("reference") or other.get("acceptance"):
            continue
        if answers(patterns, other["reference"]):
            fail(f"{q['id']}: answer {patterns} also matches the reference of {other['id']} "
                 f"({other['reference']!r}): too broad")

# Off-topic questions: their content words must not gather in one paragraph of the corpus.
offtopic = [q for q in questions if q.get("class") == "offtopic"]
if offtopic:
    paragraphs = []
    for name in corpus.all_files():
        for page, text in corpus.units(name):
            for para in re.split(r"\n\s*\n", text):
                if para.strip():
                    paragraphs.append((name, page, {stem(w) for w in content_words(para)}, para))
    for q in offtopic:
        words = {stem(w) for w in content_words(q["question"])}
        if not words:
            fail(f"{q['id']}: no content word")
            continue
        best = max(paragraphs, key=lambda p: len(words & p[2]))
        share = len(words & best[2]) / len(words)
        limit = 0.6
        if verbose or share > limit:
            where = best[0] + (f" p.{best[1]}" if best[1] else "")
            print(f"offtopic {q['id']}: {share:.0%} of {sorted(words)} in one paragraph ({where}: "
                  f"{' '.join(best[3].split())[:100]!r})")
        if share > limit:
            fail(f"{q['id']} {q['question']!r}: {share:.0%} of its content words co-occur in one paragraph "
                 f"of {best[0]}; is it really not answered?")

# The set as a whole.
by_class = Counter(q.get("class") for q in questions)
n_cov = len(covered)
pdf_questions = [q for q in covered if q.get("file", "").endswith(".pdf")]
pdf_pages = {(q["file"], q["page"]) for q in pdf_questions}
by_source = Counter(q["file"].split("/")[0] if "/" in q["file"] else q["file"] for q in covered)
name = data.get("name")
if name == "dev-fr":
    need = {"covered": 80, "paraphrase": math.ceil(n_cov / 2), "synthesis": 10, "offtopic": 20, "pdf": 8,
            "pdf_pages": 5}
    sources = {"debian-faq": 10, "debian-reference": 10, "maint-guide": 10, "lilypond": 8}
elif name == "man-fr":
    need = {"covered": 30, "paraphrase": 12, "synthesis": 5, "offtopic": 10, "pdf": 0, "pdf_pages": 0}
    sources = {}
else:
    need = {"covered": 24, "paraphrase": 1, "synthesis": 3, "offtopic": 5, "pdf": 8, "pdf_pages": 3}
    sources = {}
    acceptance = ["Quelles sont les différentes variantes de la tarte aux pommes ?",
                  "Comment faire une tarte aux pommes ?",
                  "Quel est le secret d'une bonne tarte aux pommes ?"]
    for a in acceptance:
        if not any(q.get("question") == a and q.get("class") == "synthesis" for q in questions):
            fail(f"acceptance question missing or not synthesis: {a!r}")
for key, value, minimum in [("covered", n_cov, need["covered"]), ("paraphrase", by_class["paraphrase"], need["paraphrase"]),
                            ("synthesis", by_class["synthesis"], need["synthesis"]),
                            ("offtopic", by_class["offtopic"], need["offtopic"]),
                            ("pdf", len(pdf_questions), need["pdf"]), ("pdf_pages", len(pdf_pages), need["pdf_pages"])]:
    if value < minimum:
        fail(f"only {value} {key} (>= {minimum})")
for source, minimum in sources.items():
    if by_source[source] < minimum:
        fail(f"only {by_source[source]} questions on {source} (>= {minimum})")

paraphrase_overlap = [overlaps[q["id"]] for q in covered if q["class"] == "paraphrase" and q["id"] in overlaps]
print(f"{name}: {len(questions)} questions: {n_cov} covered ("
      + ", ".join(f"{c} {by_class[c]}" for c in CLASSES[:3]) + f"), offtopic {by_class['offtopic']}; "
      + f"{len(pdf_questions)} on PDFs ({len(pdf_pages)} pages); per source: "
      + ", ".join(f"{s} {n}" for s, n in sorted(by_source.items())))
if paraphrase_overlap:
    print(f"paraphrase word overlap with the evidence: mean {sum(paraphrase_overlap) / len(paraphrase_overlap):.0%}, "
          f"max {max(paraphrase_overlap):.0%}")
print("OK" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
