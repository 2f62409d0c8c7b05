#!/usr/bin/env python3
"""llama.cpp's speed on the same model file, same protocol as `ragchat bench decoder` (synthetic
prompt, 512 tokens by default, then 128 greedy tokens, 2 threads), for the side-by-side figures of
BENCHMARKS.md. The prompt is one batch (n_batch = n_ubatch = prompt length), as the engine's bench
runs it (maxBatch = prompt length). Not run by CI or `make bench`: it needs llama-cpp-python 0.3.36
(the fixtures' version) built for this machine, e.g.
`CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36` in a venv.
    python scripts/llama-cpp-bench.py models/decoder/gemma-3-270m-q4_k_m.gguf [--prompt 512] [--decode 128]
"""
import argparse, resource, time, numpy as np
from llama_cpp import Llama
import llama_cpp
ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--prompt", type=int, default=512)
ap.add_argument("--decode", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
args = ap.parse_args()
path, n_prompt, n_decode = args.model, args.prompt, args.decode
t0 = time.time()
llm = Llama(model_path=path, n_ctx=max(1024, n_prompt + n_decode + 8), n_batch=n_prompt, n_ubatch=n_prompt,
            n_threads=args.threads, n_threads_batch=args.threads, verbose=False)
t1 = time.time()
v = llm.n_vocab()
bos = llm.token_bos()
prompt = [bos]
while len(prompt) < n_prompt: prompt.append(200 + (len(prompt) * 7919) % (min(v, 30000) - 300))
llm.eval(prompt[:16]); llm.reset()
t2 = time.time(); llm.eval(prompt); t3 = time.time()
for _ in range(n_decode):
    tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(v,))))
    llm.eval([tok])
t4 = time.time()
print(f"llama.cpp {path.split('/')[-1]}: load {t1-t0:.3f} s, prefill {n_prompt} tokens {n_prompt/(t3-t2):.1f} tok/s, decode {n_decode} tokens {n_decode/(t4-t3):.1f} tok/s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.1f} MiB")
try:
    p = llama_cpp.llama_perf_context(llm._ctx.ctx)
    print(f"   llama.cpp timers: prompt eval {p.n_p_eval} tokens {p.n_p_eval/(p.t_p_eval_ms/1000):.1f} tok/s, eval {p.n_eval} tokens {p.n_eval/(p.t_eval_ms/1000):.1f} tok/s")
except Exception as e:
    print("   (no perf timers:", e, ")")
