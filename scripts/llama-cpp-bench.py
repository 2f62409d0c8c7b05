#!/usr/bin/env python3
"""The engine against llama.cpp, side by side in one run, as ratios (BENCHMARKS.md keeps the table
with the CPU model). For each model, each round times llama.cpp then `ragchat bench decoder` on
(1) a synthetic 512-token prompt then 128 greedy tokens, and (2) a real RAG prompt of about 1,500
tokens (five passages of Debian's French reference manual from `make eval-data`, then a question)
then 128 greedy tokens. Each measurement is its own process (so peak RSS is per model), 2 threads,
the prompt as one batch in both engines. Not run by CI or `make bench`: it needs llama-cpp-python
0.3.36 (the fixtures' version) built for this machine, e.g. in a venv:
    CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36
(a build forcing AVX-VNNI dies with SIGILL on AMD hosts). Then:
    python scripts/llama-cpp-bench.py [MODEL ...] [--rounds 2]
`--one MODEL` measures llama.cpp alone on one model (used by the comparison itself).
"""
import argparse, glob, json, os, re, resource, subprocess, sys, time

MODELS = ["models/decoder/gemma-3-270m-q4_k_m.gguf", "models/decoder/SmolLM2-135M-Instruct.Q4_1.gguf",
          "models/decoder/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "models/decoder/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"]


def llama_one(path, n_prompt, n_decode, threads, prompt_file):
    """llama.cpp on one model: synthetic prompt ids (as `ragchat bench decoder`) or a text file."""
    import numpy as np
    from llama_cpp import Llama
    text = open(prompt_file, encoding="utf-8").read() if prompt_file else None
    t0 = time.time()
    probe = Llama(model_path=path, vocab_only=True, verbose=False) if text else None
    prompt = probe.tokenize(text.encode("utf-8"), add_bos=True, special=False) if text else None
    n = len(prompt) if prompt else n_prompt
    llm = Llama(model_path=path, n_ctx=max(1024, n + n_decode + 8), n_batch=n, n_ubatch=n,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    t1 = time.time()
    v = llm.n_vocab()
    if prompt is None:
        prompt = [llm.token_bos()]
        while len(prompt) < n_prompt: prompt.append(200 + (len(prompt) * 7919) % (min(v, 30000) - 300))
    llm.eval(prompt[:16]); llm.reset()   # warm-up: page the weights in
    t2 = time.time(); llm.eval(prompt); t3 = time.time()
    for _ in range(n_decode):
        tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(v,))))
        llm.eval([tok])
    t4 = time.time()
    return {"load": t1 - t0, "prompt_tokens": len(prompt), "prefill": len(prompt) / (t3 - t2),
            "decode": n_decode / (t4 - t3), "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def ours(ragchat, path, n_prompt, n_decode, threads, prompt_file):
    cmd = [ragchat, "bench", "decoder", path, "--prompt", str(n_prompt), "--decode", str(n_decode), "--threads", str(threads)]
    if prompt_file: cmd += ["--prompt-file", prompt_file]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    m = re.search(r"prefill (\d+) tokens ([\d.]+) tok/s, decode \d+ tokens ([\d.]+) tok/s, peak RSS ([\d.]+) MiB", out)
    if not m: sys.exit(f"unexpected output of {' '.join(cmd)}:\n{out}")
    return {"prompt_tokens": int(m.group(1)), "prefill": float(m.group(2)), "decode": float(m.group(3)), "rss": float(m.group(4))}


def theirs(path, n_prompt, n_decode, threads, prompt_file):
    cmd = [sys.executable, __file__, "--one", path, "--prompt", str(n_prompt), "--decode", str(n_decode), "--threads", str(threads)]
    if prompt_file: cmd += ["--prompt-file", prompt_file]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def rag_prompt(path, tokens=1500):
    """Five passages of real French documentation, then a question, about `tokens` long (counted by
    a French-heavy 3.6 characters per token; each engine tokenizes it itself)."""
    files = sorted(glob.glob(".build/eval/dev-fr/debian-reference/ch0*.txt"))
    if not files: sys.exit("no .build/eval/dev-fr: run `make eval-data` first")
    paras = [p.strip() for f in files[1:3] for p in open(f, encoding="utf-8").read().split("\n\n") if len(p.strip()) > 200]
    budget, parts = int(tokens * 3.6), []
    for i, p in enumerate(paras):
        if sum(len(x) for x in parts) > budget - 200: break
        parts.append(f"[{len(parts) % 5 + 1}] {p}")
    text = ("Réponds à la question en t'appuyant uniquement sur les extraits numérotés ci-dessous, en citant [n].\n\n"
            + "\n\n".join(parts) + "\n\nQuestion : Comment savoir quels paquets sont installés et d'où ils viennent ?\nRéponse :")
    with open(path, "w", encoding="utf-8") as f: f.write(text)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--decode", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prompt-file")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--ragchat", default=".build/release/ragchat")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(llama_one(args.one, args.prompt, args.decode, args.threads, args.prompt_file)))
        return
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
    isa = "AVX-512 VNNI" if "avx512_vnni" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    rag = rag_prompt("/tmp/ragchat-rag-prompt.txt")
    print(f"CPU {cpu} ({isa}), {os.cpu_count()} CPUs, {args.threads} threads, {args.rounds} rounds alternating", flush=True)
    rows = []
    for model in args.models:
        name = os.path.basename(model)
        cases = [("512 + 128", None), ("RAG + 128", rag)]
        for label, pf in cases:
            a, b = [], []
            for r in range(args.rounds):
                b.append(theirs(model, args.prompt, args.decode, args.threads, pf))
                a.append(ours(args.ragchat, model, args.prompt, args.decode, args.threads, pf))
                print(f"  {name} {label} round {r + 1}: ours prefill {a[-1]['prefill']:.1f} decode {a[-1]['decode']:.1f} | "
                      f"llama.cpp prefill {b[-1]['prefill']:.1f} decode {b[-1]['decode']:.1f} tok/s "
                      f"({a[-1]['prompt_tokens']} / {b[-1]['prompt_tokens']} prompt tokens)", flush=True)
            best = lambda xs, k: max(x[k] for x in xs)
            rows.append((name, label, a[-1]["prompt_tokens"], best(a, "prefill"), best(b, "prefill"), best(a, "decode"),
                         best(b, "decode"), max(x["rss"] for x in a), max(x["rss"] for x in b)))
    print("\n| model | case | prompt tokens | prefill ours / llama.cpp tok/s | ratio | decode ours / llama.cpp tok/s | ratio | peak RSS ours / llama.cpp MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for n, label, pt, pa, pb, da, db, ra, rb in rows:
        print(f"| {n} | {label} | {pt} | {pa:.1f} / {pb:.1f} | **{pa / pb:.2f}×** | {da:.1f} / {db:.1f} | **{da / db:.2f}×** | {ra:.0f} / {rb:.0f} |")
    print("(best of the rounds for each engine)")


if __name__ == "__main__":
    main()
