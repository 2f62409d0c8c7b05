#!/usr/bin/env python3
"""Quick BM25 sanity check of a question set (no Swift needed): chunks the corpus like
Sources/Documents/Chunker.swift (about 800 characters, 150 overlap, paragraph > sentence > line >
word breaks, each PDF page on its own), ranks chunks with a plain BM25 (k1 1.2, b 0.75) over
accent-folded lower-cased words, and reports hit@1/hit@5/MRR@5 per class and per source. A hit is
a chunk of the question's file (and page) whose whitespace-collapsed text contains `expected`
(or an `alt` extract), as in RetrievalQuestion.isAnswered.

It only spots unanswerable or broken questions (rank of the answering chunk for each miss with -v);
it is not a tuning target.
    scripts/bm25-sanity.py SET.json [CORPUS_DIR] [-v]
"""
import math
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from evalset import Corpus, collapse, corpus_dir, fold, load_set  # noqa: E402

TARGET, OVERLAP = 800, 150
CLOSING = set('"\'»”’)]')
FINAL = set(".!?…")


def is_space(c):
    return c in " \n\t\r" or (ord(c) >= 0x80 and c.isspace())


def is_heading(s, end):
    start = end
    while start > 0 and s[start - 1] != "\n":
        start -= 1
        if end - start > 100:
            return False
    return not (s[end - 1] in FINAL or s[end - 1] == ";")


def ends_sentence(s, end, nxt, newline):
    j = end - 1
    while j >= 0 and s[j] in CLOSING:
        j -= 1
    if j < 0:
        return False
    mark = s[j]
    if newline and mark in ":;":
        return True
    if mark not in FINAL:
        return False
    w = j
    while w > 0 and (s[w - 1].isdigit() or s[w - 1] == "."):
        w -= 1
    if mark == "." and w < j and (w == 0 or s[w - 1] == "\n"):
        return False
    if newline:
        return True
    if nxt.isdigit() or "A" <= nxt <= "Z" or nxt in "«\"“‘'—–-([":
        return True
    if ord(nxt) < 0x80:
        return False
    return nxt.isupper()


def boundaries(s):
    out, i, n = [], 0, len(s)
    while i < n:
        if not is_space(s[i]):
            i += 1
            continue
        run, newlines = i, 0
        while i < n and is_space(s[i]):
            newlines += s[i] == "\n"
            i += 1
        if i >= n or run == 0:
            continue
        if newlines >= 2:
            strength = 1 if is_heading(s, run) else 3
        elif ends_sentence(s, run, s[i], newlines > 0):
            strength = 2
        elif newlines == 1:
            strength = 1
        else:
            strength = 0
        out.append((i, strength))
    return out


def chunk_ranges(s):
    n = len(s)
    if not s.strip():
        return []
    bs = boundaries(s)
    positions = [b[0] for b in bs]
    import bisect
    result, start, previous_end = [], 0, 0
    while True:
        if n - start <= TARGET:
            result.append((start, n))
            break
        lo, hi = max(start + TARGET // 2, previous_end + 1), start + TARGET
        end, best = -1, 0
        k = bisect.bisect_left(positions, lo)
        while k < len(bs) and bs[k][0] <= hi:
            if end < 0 or bs[k][1] >= best:
                end, best = bs[k]
            k += 1
        if end < 0:
            end = bs[k][0] if k < len(bs) and bs[k][0] - start <= 4 * TARGET else min(n, start + 4 * TARGET)
        result.append((start, end))
        if end >= n:
            break
        previous_end = end
        nxt = end
        window = max(start + 1, end - OVERLAP * 3 // 2)
        best_distance, best_strong = None, False
        k = bisect.bisect_left(positions, window)
        while k < len(bs) and bs[k][0] < end:
            pos, strength = bs[k]
            strong = strength >= 2
            distance = abs((end - pos) - OVERLAP)
            if (strong and not best_strong) or (strong == best_strong and (best_distance is None or distance < best_distance)):
                nxt, best_distance, best_strong = pos, distance, strong
            k += 1
        start = nxt
    return result


def tokens(text):
    return re.findall(r"\w+", fold(text))


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    verbose = "-v" in sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    data, questions = load_set(args[0])
    corpus = Corpus(corpus_dir(data, args[1] if len(args) > 1 else None))
    chunks = []  # (file, page, text)
    for name in corpus.all_files():
        for page, text in corpus.units(name):
            for a, b in chunk_ranges(text):
                chunks.append((name, page, text[a:b]))
    docs = [Counter(tokens(c[2])) for c in chunks]
    lengths = [sum(d.values()) for d in docs]
    avg = sum(lengths) / len(lengths)
    df = Counter()
    for d in docs:
        df.update(d.keys())
    N = len(docs)
    idf = {t: math.log(1 + (N - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    postings = defaultdict(list)
    for k, d in enumerate(docs):
        for t, f in d.items():
            postings[t].append((k, f))

    def search(query, k1=1.2, b=0.75):
        scores = defaultdict(float)
        for t in set(tokens(query)):
            for doc, f in postings.get(t, ()):
                scores[doc] += idf[t] * f * (k1 + 1) / (f + k1 * (1 - b + b * lengths[doc] / avg))
        return sorted(scores.items(), key=lambda x: -x[1])

    def answered(q, chunk):
        targets = [(q["file"], q.get("page"), q["expected"])] + [(a["file"], a.get("page"), a["expected"]) for a in q.get("alt", []) or []]
        text = collapse(chunk[2])
        return any(chunk[0] == f and (p is None or chunk[1] == p) and e in text for f, p, e in targets)

    print(f"{data['name']}: {len(corpus.all_files())} files, {N} chunks (~{TARGET} characters, {OVERLAP} overlap), "
          f"{sum(len(c[2]) for c in chunks) / 1e6:.2f} M characters chunked")
    stats = defaultdict(lambda: [0, 0, 0, 0.0])  # n, hit1, hit5, mrr
    misses, top_scores = [], {"covered": [], "offtopic": []}
    for q in questions:
        ranked = search(q["question"])
        top = ranked[0][1] if ranked else 0.0
        if q["class"] == "offtopic":
            top_scores["offtopic"].append(top)
            continue
        top_scores["covered"].append(top)
        rank = next((r for r, (doc, _) in enumerate(ranked[:50], 1) if answered(q, chunks[doc])), None)
        source = q["file"].split("/")[0]
        for key in (q["class"], "source " + source, "all covered"):
            s = stats[key]
            s[0] += 1
            s[1] += rank == 1
            s[2] += rank is not None and rank <= 5
            s[3] += 1 / rank if rank and rank <= 5 else 0
        if not rank or rank > 5:
            misses.append((q["id"], q["class"], rank, q["question"]))
    for key in ["lookup", "paraphrase", "synthesis"] + sorted(k for k in stats if k.startswith("source")) + ["all covered"]:
        n, h1, h5, mrr = stats[key]
        if n:
            print(f"  {key:24s} n={n:3d}  hit@1 {h1:3d} ({h1 / n:4.0%})  hit@5 {h5:3d} ({h5 / n:4.0%})  MRR@5 {mrr / n:.2f}")
    def median(x):
        x = sorted(x)
        return x[len(x) // 2] if x else 0
    print(f"  top BM25 score, median: covered {median(top_scores['covered']):.1f}, off-topic {median(top_scores['offtopic']):.1f} "
          f"(off-topic max {max(top_scores['offtopic'] or [0]):.1f})")
    if verbose:
        for qid, cls, rank, question in misses:
            print(f"  miss {qid} {cls:10s} rank {rank if rank else '>50'}: {question}")


if __name__ == "__main__":
    main()
