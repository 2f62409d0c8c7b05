"""Shared helpers of scripts/check-eval.py and scripts/bm25-sanity.py: reading a question set and
its corpus the way the project's extractor sees it, folding text, content words.

Text files are normalised like Sources/Documents/TextNormalizer.swift (NFC, ligatures expanded,
soft hyphens and zero-width characters dropped, spaces collapsed, a word hyphenated across a line
break joined); PDF pages are `pdftotext` output per page (raw reading order, or -layout), with the
same normalisation. Matching of `expected` is on whitespace-collapsed text, as in
Sources/Benchmarks/IndexBenchmarks.swift (RetrievalQuestion.isAnswered).
"""
import json
import re
import subprocess
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
             "\ufb05": "st", "\ufb06": "st"}
ZERO_WIDTH = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)


def load_set(path):
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data, data["questions"]


def corpus_dir(data, override=None):
    return Path(override) if override else ROOT / data["corpus"]


def clean(text):
    """Character-level normalisation of TextNormalizer: NFC, ligatures, invisible characters,
    spaces collapsed inside lines, lines trimmed, hyphenation across line breaks joined."""
    text = unicodedata.normalize("NFC", text)
    for lig, rep in LIGATURES.items():
        text = text.replace(lig, rep)
    text = text.translate(ZERO_WIDTH)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    lines = [re.sub(r"[ \t\u00a0\u202f\u2000-\u200a\u3000]+", " ", l).strip() for l in text.split("\n")]
    out = []
    for line in lines:
        if out and len(out[-1]) >= 2 and out[-1].endswith("-") and out[-1][-2].isalpha() and line[:1].islower():
            first, _, rest = line.partition(" ")
            last_word = out[-1].split(" ")[-1][:-1]
            out[-1] = out[-1][:-1] + ("-" if "-" in last_word else "") + first
            if rest:
                out.append(rest)
            continue
        out.append(line)
    return "\n".join(out)


def collapse(text):
    return " ".join(unicodedata.normalize("NFC", text).split())


def unaccent(text):
    text = unicodedata.normalize("NFD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("\u2019", "'")


def fold(text):
    """Lower case without accents (for regexes and word matching)."""
    return unaccent(text).lower()


def pdf_pages(path, layout=False):
    args = ["pdftotext", "-q"] + (["-layout"] if layout else []) + [str(path), "-"]
    text = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    pages = text.split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return [clean(p) for p in pages]


class Corpus:
    """Files of a corpus directory, read lazily: text files as one string, PDFs as pages."""

    def __init__(self, root):
        self.root = Path(root)
        self.texts, self.pdfs = {}, {}

    def exists(self, name):
        return (self.root / name).is_file()

    def text(self, name):
        if name not in self.texts:
            self.texts[name] = clean((self.root / name).read_text(encoding="utf-8"))
        return self.texts[name]

    def pages(self, name, layout=False):
        key = (name, layout)
        if key not in self.pdfs:
            self.pdfs[key] = pdf_pages(self.root / name, layout)
        return self.pdfs[key]

    def all_files(self):
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*")
                      if p.is_file() and not p.name.startswith(".") and p.suffix in (".txt", ".md", ".pdf"))

    def units(self, name):
        """(page, text) units: one for a text file, one per page of a PDF (raw mode)."""
        if name.endswith(".pdf"):
            return [(k + 1, t) for k, t in enumerate(self.pages(name))]
        return [(None, self.text(name))]


STOP = set("""
a à afin ai aie aient ainsi alors après as au aucun aucune aujourd auprès aussi autre autres aux avais avait avant avec avez avoir
bien bon c ça car ce ceci cela celle celles celui cependant certain certaines certains ces cet cette ceux chaque chez ci comme comment
d dans de des deux devrait dit dois doit donc dont du elle elles en encore entre es est et été étaient était être eu eux
faire fais fait faut faudrait il ils j je jusqu l la le les leur leurs lors lorsqu lorsque lui m ma mais me même mes moi mon
n ne ni non nos notre nous on ont ou où par parce pas peu peut peuvent plus pour pourquoi pouvez puis puisque qu quand que quel
quelle quelles quels qui quoi s sa sans se ses si sinon soit son sont sous sur t ta te tes toi ton tous tout toute toutes très tu
un une unes uns vers veut voici voilà vos votre vous y est-ce quoi combien quelle faut-il peut-on veux voudrais dois-je puis-je
ici là cas sorte chose choses façon moyen utiliser fois lequel laquelle lesquels lesquelles celui-ci existe-t-il existe
""".split())


FOLDED_STOP = {fold(w) for w in STOP}


def content_words(text):
    words = re.findall(r"[a-z0-9_./~-]*[a-z][a-z0-9_./~-]*", fold(text))
    out = []
    for w in words:
        w = w.strip("-./~_")
        if len(w) < 3 or w in FOLDED_STOP:
            continue
        out.append(w)
    return out


def stem(word):
    """A crude French stem: plural s/x dropped, cut to 6 characters."""
    if len(word) > 4 and word[-1] in "sx":
        word = word[:-1]
    return word[:6]


def compile_answer(pattern):
    """Regexes are matched case- and accent-insensitively on both sides."""
    return re.compile(unaccent(pattern), re.IGNORECASE | re.DOTALL)


def answers(patterns, text):
    t = fold(text)
    return all(compile_answer(p).search(t) for p in patterns)
