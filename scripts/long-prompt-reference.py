#!/usr/bin/env python3
"""Reference data for Tests/DecoderTests/LongPromptParityTests.swift (prompts longer than 512 tokens).

NOT run by CI: CI only reads the JSON it wrote (Tests/DecoderTests/Resources/long_prompts.json).
Regenerate by hand, from the repository root, with llama-cpp-python 0.3.36 (CPU build):

    python scripts/long-prompt-reference.py [out.json]

For each decoder model file (models/decoder/*.gguf) it builds RAG prompts like the server's
(Sources/RAG/PromptBuilder.swift: system rules, numbered passages of data/connaissances.txt of at most
1,500 characters, a question; rendered with the model's chat template) of about 700, 1,100 and 1,500
tokens, and records what the parity fixtures (shared/fixtures) record: prompt_ids, the top-10 ids and raw
logits after the whole prompt, the greedy ids (40 steps or up to EOS) and the top-1/top-2 logit gap at
every step.

llama.cpp settings (those of the fixtures, as far as they can be inferred): n_ctx 2048, n_threads 2,
n_batch 512, n_ubatch 512 (llama-cpp-python's defaults: a prompt is decoded in 512-token batches),
flash attention off (F16 KV cache, ggml mul_mat attention), swa_full default (true: the sliding-window
layers keep every cell), logits of the last token of each batch only.
"""
import json
import sys
from pathlib import Path

import numpy as np
import llama_cpp
from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
MODELS = ["gemma-3-270m-q4_k_m.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"]
TARGETS = [700, 1100, 1500]
STEPS = 40
SETTINGS = dict(n_ctx=2048, n_threads=2, n_threads_batch=2, n_batch=512, n_ubatch=512, flash_attn=False,
                logits_all=False, seed=0, verbose=False)

SYSTEM = """Tu es un assistant qui répond aux questions à partir d'extraits de documents.
Règles :
1. Réponds uniquement à partir des extraits numérotés fournis, sans rien inventer.
2. Cite les extraits utilisés avec leur numéro entre crochets, par exemple [1] ou [1, 3].
3. Si les extraits ne contiennent pas la réponse, dis-le clairement : « Les documents ne permettent pas de répondre à cette question. »
4. Réponds dans la langue de la question (en français si la question est en français), de façon claire et concise."""

QUESTIONS = {700: "D'où vient la tarte aux pommes ?",
             1100: "Quelles pommes choisir pour une tarte, et pourquoi ?",
             1500: "Quelles sont les erreurs les plus courantes quand on prépare une tarte aux pommes ?"}


def passages():
    """The document cut into passages of at most 1,500 characters at paragraph boundaries, lines unwrapped."""
    text = (ROOT / "data/connaissances.txt").read_text(encoding="utf-8")
    paras = [" ".join(l.strip() for l in p.split("\n") if l.strip()) for p in text.split("\n\n")]
    paras = [p for p in paras if p]
    out, cur = [], ""
    for p in paras:
        if cur and len(cur) + 2 + len(p) > 1500:
            out.append(cur)
            cur = ""
        cur = (cur + "\n\n" + p) if cur else p[:1500]
    if cur:
        out.append(cur)
    return out


def render(model, system, user):
    if model.startswith("gemma"):
        return f"<start_of_turn>user\n{system}\n\n{user}<end_of_turn>\n<start_of_turn>model\n"
    return f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"


def prompt_for(llm, model, target, ps):
    """Whole passages while they fit under `target` tokens, then a prefix of the next one (cut at a word,
    with "…" as PromptBuilder cuts long passages) so that the prompt has about `target` tokens."""
    q = QUESTIONS[target]

    def build(chosen):
        block = "\n\n".join(f"[{i + 1}] (connaissances.txt)\n{p}" for i, p in enumerate(chosen))
        text = render(model, SYSTEM, f"Extraits :\n\n{block}\n\nQuestion : {q}")
        return llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)

    chosen = []
    for p in ps:
        if len(build(chosen + [p])) <= target:
            chosen.append(p)
            continue
        words = p.split(" ")
        lo, hi = 1, len(words)  # largest prefix that stays <= target
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if len(build(chosen + [" ".join(words[:mid]) + "…"])) <= target:
                lo = mid
            else:
                hi = mid - 1
        chosen.append(" ".join(words[:lo]) + "…")
        return len(chosen), build(chosen)
    raise SystemExit(f"document too short for {target} tokens")


def check_fixture(llm, model):
    """Settings check: the first case of the short-prompt fixture must come out identical."""
    f = ROOT.parent / "shared/fixtures" / model.replace(".gguf", ".json")
    if not f.exists():
        f = ROOT / "Tests/DecoderTests/Resources" / model.replace(".gguf", ".json")
    g = json.loads(f.read_text())["greedy"][0]
    llm.reset()
    llm.eval(g["prompt_ids"])
    lg = logits_now(llm)
    mine = [round(float(lg[i]), 4) for i in g["top10_after_prompt"]["ids"]]
    same = mine == g["top10_after_prompt"]["logits"]
    print(model, "fixture check:", "identical" if same else f"DIFFERENT {mine} vs {g['top10_after_prompt']['logits']}")
    return same


def logits_now(llm):
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


def main():
    out_path = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "Tests/DecoderTests/Resources/long_prompts.json"
    ps = passages()
    result = {
        "source": "llama.cpp via llama-cpp-python 0.3.36 (CPU, AVX-512, AMX off), scripts/long-prompt-reference.py",
        "settings": {k: v for k, v in SETTINGS.items() if k not in ("verbose", "seed")} | {"swa_full": "default (true)"},
        "models": [],
    }
    for model in MODELS:
        llm = Llama(model_path=str(ROOT / "models/decoder" / model), **SETTINGS)
        eos = llm.token_eos()
        if not check_fixture(llm, model):
            raise SystemExit("settings do not reproduce the fixtures")
        cases = []
        for target in TARGETS:
            n_passages, ids = prompt_for(llm, model, target, ps)
            llm.reset()
            llm.eval(ids)
            lg = logits_now(llm)
            top = np.argsort(-lg, kind="stable")[:10]
            top10 = {"ids": [int(i) for i in top], "logits": [round(float(lg[i]), 4) for i in top]}
            greedy, gaps = [], []
            for _ in range(STEPS):
                s = np.sort(lg)
                gaps.append(round(float(s[-1] - s[-2]), 4))
                tok = int(np.argmax(lg))
                greedy.append(tok)
                if tok == eos:
                    break
                llm.eval([tok])
                lg = logits_now(llm)
            text = llm.detokenize(greedy).decode("utf-8", "replace")
            label = f"RAG, {n_passages} passages, {len(ids)} tokens"
            print(model, label, "->", repr(text[:80]), "min gap", min(gaps), flush=True)
            cases.append({"prompt": label, "prompt_ids": [int(i) for i in ids], "top10_after_prompt": top10,
                          "greedy_ids": greedy, "top2_gap": gaps, "greedy_text": text})
        result["models"].append({"model": model, "greedy": cases})
        del llm
    out_path.write_text(json.dumps(result, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print("wrote", out_path)


if __name__ == "__main__":
    main()
