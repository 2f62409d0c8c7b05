#!/usr/bin/env python3
"""Reference data for the Qwen2.5-Coder parity tests (Tests/DecoderTests/QwenParityTests.swift).

NOT run by CI: CI only reads the JSON it writes. Regenerate by hand, from the repository root, after
`make models`, with llama-cpp-python 0.3.36 built on the machine (a venv outside /root, default native
build: `CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36`; never force AVX-VNNI or
-march flags, a build for another CPU dies with SIGILL):

    /opt/venv-llama/bin/python scripts/qwen-reference.py [OUT_DIR]

Writes to OUT_DIR (default Tests/DecoderTests/Resources):
- qwen2.5-coder-0.5b-instruct-q4_k_m.json, qwen2.5-coder-1.5b-instruct-q4_k_m.json: the shape of
  shared/fixtures/*.json. `tokenize[]`: French sentences (data/connaissances.txt, data/document.ms and
  hand-written ones with accents, French typography, numbers, decomposed accents) with `ids_add_bos`
  (the model's own BOS rule, special tokens as text) and `ids_no_bos_special` (no BOS, special tokens
  parsed). `greedy[]`: short prompts (raw completions, a ChatML question, a ChatML French RAG prompt
  under 512 tokens): prompt_ids, top-10 ids and raw logits after the prompt, 48 greedy ids (or up
  to EOS) and the top-1/top-2 logit gap at each step.
- long_prompts_qwen.json: the shape of long_prompts.json, one ChatML RAG prompt of about 1,400 tokens
  per model (3 batches of 512), 40 greedy steps.

llama.cpp settings: those of the fixtures and of scripts/long-prompt-reference.py (n_ctx 2048,
n_threads 2, n_batch = n_ubatch = 512, flash attention off: F16 KV cache; logits of the last token of
each batch only). The host's CPU is recorded in `reference`: the earlier fixtures were made on an
AVX-512 machine, whose llama.cpp sums some float vectors in another order than an AVX2-only one.
"""
import importlib.util
import json
import platform
import re
import sys
from pathlib import Path

import numpy as np
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]
SHORT_STEPS, LONG_STEPS, LONG_TARGET = 48, 40, 1400
SETTINGS = dict(n_ctx=2048, n_threads=2, n_threads_batch=2, n_batch=512, n_ubatch=512, flash_attn=False,
                logits_all=False, seed=0, verbose=False)

# The long-prompt script's RAG prompt builder (system rules, passages of data/connaissances.txt).
_spec = importlib.util.spec_from_file_location("long_prompt_reference", ROOT / "scripts/long-prompt-reference.py")
lpr = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lpr)
lpr.QUESTIONS[LONG_TARGET] = "Quelles sont les différentes variantes de la tarte aux pommes ?"

# Sentences that stress the pre-tokenizer (Qwen2's regex: contractions, [^\r\n\p{L}\p{N}]?\p{L}+, one
# digit per piece, punctuation runs with trailing newlines, whitespace rules) on French text.
HANDWRITTEN = [
    "L'été dernier, j'ai goûté une tarte Tatin à Évreux.",
    "Où est passé le cœur de l'œuvre ? À Noël, sûrement !",
    "Ça coûte 12,50 € ; c'est-à-dire à peu près 1 500 francs d'antan.",
    "Préchauffez le four à 180 °C (thermostat 6) pendant 15 minutes.",
    "« Bonjour », dit-elle — puis elle s'arrêta… net.",
    "Il est 14 h 30 : l'heure du goûter approche.",
    "Élève, Ève, Œdipe, Æsop, Ÿ et Ç sont des majuscules accentuées.",
    "Aujourd'hui, peut-être qu'il pleuvra ; qu'en penses-tu ?",
    "Les pommes (Reinette, Boskoop, Golden…) se conservent à 4 °C.",
    "Mélangez 250 g de farine, 125 g de beurre et 1 pincée de sel.",
    "Le XIVe siècle, le 1er janvier 2024, la 3e édition.",
    "Voir §\u00a012 et l'article L.\u00a0123-4 du Code de la consommation.",
    "Elle a dit\u202f: «\u202fNon\u202f!\u202f» — et c'était tout\u202f?",
    "Prix\u00a0: 3,5\u00a0% de remise, soit 0,75\u00a0€ par part.",
    "Tu l’as vu ? L’apostrophe typographique n’est pas l’apostrophe droite.",
    "Cre\u0301me bru\u0302le\u0301e (accents de\u0301compose\u0301s, forme NFD).",
    "Crème brûlée (accents composés, forme NFC).",
    "naïve, Noël, maïs, aïeul, capharnaüm, ambiguë.",
    "Ligne un\nLigne deux\r\nLigne trois\n\n\nFin.",
    "  Deux espaces devant, et trois   au milieu.\tUne tabulation.",
    "Adresse : contact@exemple.fr — site : https://exemple.fr/tarte?id=42&lang=fr",
    "Température : -18 °C au congélateur, +4 °C au réfrigérateur.",
    "Les « coffins » médiévaux n'étaient pas toujours mangés.",
    "1. Éplucher. 2. Couper. 3. Cuire 35 à 40 min.",
    "Qu'est-ce qu'une pâte brisée ? Et une pâte sablée ?",
    "Le chef s'écria : « Quelle réussite ! »",
    "Ex-æquo, in extremis, a priori, à la carte.",
    "Mots longs : anticonstitutionnellement, intergouvernementalisation.",
    "Émojis : 🍎🥧 et symboles : ™ © ® ° ± × ÷.",
    "Code : `let x = 42 // réponse` et <balise>texte</balise>.",
    "<|im_start|>user\nQuelle pomme choisir ?<|im_end|>\n<|im_start|>assistant\n",
    "Réponds en citant [1] et [2, 3] ; sinon : « Les documents ne permettent pas de répondre. »",
]


def french_sentences():
    """Sentences of data/connaissances.txt and of data/document.ms (groff: one sentence per line,
    \\~ is a non-breaking space, \\(em an em dash), then the hand-written ones."""
    text = " ".join((ROOT / "data/connaissances.txt").read_text(encoding="utf-8").split())
    out = [s.strip() for s in re.split(r"(?<=[.!?…])\s+", text) if len(s.strip()) > 3]
    for line in (ROOT / "data/document.ms").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith(".") or line.startswith("'") or "\t" in line:
            continue  # requests, comments, table rows
        line = line.replace("\\~", "\u00a0").replace("\\(em", "—").replace("\\(en", "–").replace("\\(de", "°")
        if "\\" in line or len(line) < 12:
            continue
        out.append(line)
    seen, unique = set(), []
    for s in out + HANDWRITTEN:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def is_eog(llm, tok):
    """End of generation (Qwen: <|im_end|> and <|endoftext|>), as llama.cpp's vocabulary says."""
    try:
        return bool(llama_cpp.llama_vocab_is_eog(llama_cpp.llama_model_get_vocab(llm.model), tok))
    except AttributeError:
        return tok == llm.token_eos()


def logits_now(llm):
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def run_prompt(llm, label, ids, steps):
    """The fixtures' record of one prompt: top-10 after it, greedy ids and top-2 gaps."""
    eos = llm.token_eos()
    llm.reset()
    llm.eval(ids)
    lg = logits_now(llm)
    top = np.argsort(-lg, kind="stable")[:10]
    top10 = {"ids": [int(i) for i in top], "logits": [round(float(lg[i]), 4) for i in top]}
    greedy, gaps = [], []
    for _ in range(steps):
        s = np.sort(lg)
        gaps.append(round(float(s[-1] - s[-2]), 4))
        tok = int(np.argmax(lg))
        greedy.append(tok)
        if tok == eos or is_eog(llm, tok):
            break
        llm.eval([tok])
        lg = logits_now(llm)
    text = llm.detokenize(greedy).decode("utf-8", "replace")
    print(f"  {label[:60]!r} ({len(ids)} tokens) -> {text[:70]!r}, min gap {min(gaps)}", flush=True)
    return {"prompt": label, "prompt_ids": [int(i) for i in ids], "top10_after_prompt": top10,
            "greedy_ids": greedy, "top2_gap": gaps, "greedy_text": text}


def chatml(system, user):
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def short_rag_prompt(ps):
    """A French RAG prompt in ChatML as the server builds it, two passages, under 512 tokens."""
    secret = next(p for p in ps if "secret" in p.lower())
    block = "\n\n".join(f"[{i + 1}] (connaissances.txt)\n{p[:450]}" for i, p in enumerate([ps[0], secret]))
    return chatml(lpr.SYSTEM, f"Extraits :\n\n{block}\n\nQuestion : Quel est le secret d'une bonne tarte aux pommes ?")


def settings_check():
    """How far this host's llama.cpp is from the fixtures' (first Gemma 3 case): reported, not required."""
    f = ROOT / "Tests/DecoderTests/Resources/gemma-3-270m-q4_k_m.json"
    path = ROOT / "models/decoder/gemma-3-270m-q4_k_m.gguf"
    if not (f.exists() and path.exists()):
        return "not run"
    g = json.loads(f.read_text())["greedy"][0]
    llm = Llama(model_path=str(path), **SETTINGS)
    llm.eval(g["prompt_ids"])
    lg = logits_now(llm)
    diff = max(abs(float(lg[i]) - r) for i, r in zip(g["top10_after_prompt"]["ids"], g["top10_after_prompt"]["logits"]))
    del llm
    note = f"gemma-3-270m fixture case 1 reproduced within {diff:.4f} (max abs top-10 logit difference)"
    print("settings check:", note)
    return note


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
                isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
                return f"{line.split(':', 1)[1].strip()}, {isa}"
    except OSError:
        pass
    return platform.processor()


def main():
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "Tests/DecoderTests/Resources"
    check = settings_check()
    source = (f"llama.cpp via llama-cpp-python {llama_cpp.__version__} (CPU, native build on {cpu_name()}), "
              f"2 threads, scripts/qwen-reference.py")
    settings = {k: v for k, v in SETTINGS.items() if k not in ("verbose", "seed")}
    sentences = french_sentences()
    ps = lpr.passages()
    long_models = []
    for model in MODELS:
        print(model, flush=True)
        llm = Llama(model_path=str(ROOT / "models/decoder" / model), **SETTINGS)
        tokenize = [{"text": s,
                     "ids_add_bos": llm.tokenize(s.encode("utf-8"), add_bos=True, special=False),
                     "ids_no_bos_special": llm.tokenize(s.encode("utf-8"), add_bos=False, special=True)}
                    for s in sentences]
        print(f"  tokenized {len(tokenize)} sentences, {sum(len(t['ids_add_bos']) for t in tokenize)} tokens")

        def ids(text):
            return llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        prompts = [
            ("La tarte aux pommes est", ids("La tarte aux pommes est")),
            ("Question : Comment faire une tarte aux pommes ?\nRéponse :",
             ids("Question : Comment faire une tarte aux pommes ?\nRéponse :")),
            ("The capital of France is", ids("The capital of France is")),
            ("ChatML: Comment faire une tarte aux pommes ? (Qwen's default system turn)",
             ids(chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
                        "Comment faire une tarte aux pommes ?"))),
            ("ChatML RAG: Quel est le secret d'une bonne tarte aux pommes ? (2 passages)", ids(short_rag_prompt(ps))),
        ]
        greedy = [run_prompt(llm, label, p, SHORT_STEPS) for label, p in prompts]
        fixture = {"model": model, "reference": source, "settings": settings, "settings_check": check,
                   "tokenize": tokenize, "greedy": greedy}
        (out_dir / model.replace(".gguf", ".json")).write_text(
            json.dumps(fixture, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")

        n_passages, long_ids = lpr.prompt_for(llm, "qwen", LONG_TARGET, ps)
        long_case = run_prompt(llm, f"RAG, {n_passages} passages, {len(long_ids)} tokens", long_ids, LONG_STEPS)
        long_models.append({"model": model, "greedy": [long_case]})
        del llm
    result = {"source": source, "settings": settings | {"swa_full": "default (true)"}, "models": long_models}
    (out_dir / "long_prompts_qwen.json").write_text(
        json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print("wrote", out_dir)


if __name__ == "__main__":
    main()
