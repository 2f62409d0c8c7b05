# Regenerates hf-wordpiece.json: Hugging Face `tokenizers` ids for every non-empty line of the
# documents in data/ plus a list of tricky strings. Needs `pip install tokenizers` (not needed
# to run the tests). Run from the repository root:
#   python3 Tests/EncoderTests/Resources/make_hf_wordpiece.py
import json, os, tokenizers

here = os.path.dirname(os.path.abspath(__file__))
lines = []
for name in ["data/connaissances.txt", "data/document.ms"]:
    if os.path.exists(name):
        for line in open(name, encoding="utf-8", errors="replace"):
            line = line.rstrip("\n")
            if line.strip():
                lines.append(line)
with open(os.path.join(here, "hf-wordpiece.json"), encoding="utf-8") as f:
    previous = [c["text"] for c in json.load(f)["cases"]]
# Keep the tricky strings of the previous file (everything not from data/).
lines += [t for t in previous if t not in lines]
tok = tokenizers.Tokenizer.from_file("models/encoder/all-MiniLM-L6-v2/tokenizer.json")
tok.no_padding()
tok.enable_truncation(256)
out = {
    "generator": f"Hugging Face tokenizers {tokenizers.__version__}, Tokenizer.from_file(models/encoder/all-MiniLM-L6-v2/tokenizer.json), no_padding(), enable_truncation(256); see make_hf_wordpiece.py",
    "cases": [{"text": t, "ids": tok.encode(t).ids} for t in lines],
}
with open(os.path.join(here, "hf-wordpiece.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
print(len(lines), "cases")
