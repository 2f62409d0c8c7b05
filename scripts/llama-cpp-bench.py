#!/usr/bin/env python3
"""llama.cpp's speed on the same model file, same protocol as `ragchat bench decoder` (512-token
synthetic prompt, then 128 greedy tokens, 2 threads), for the side-by-side figures of BENCHMARKS.md.
Not run by CI or `make bench`: it needs llama-cpp-python 0.3.36 (the fixtures' version) built for
this machine, e.g. `CMAKE_ARGS="-DGGML_NATIVE=ON" pip install llama-cpp-python==0.3.36` in a venv.
    python scripts/llama-cpp-bench.py models/decoder/gemma-3-270m-q4_k_m.gguf
"""
import sys, time, numpy as np
from llama_cpp import Llama
import llama_cpp
path = sys.argv[1]
t0 = time.time()
llm = Llama(model_path=path, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=2, n_threads_batch=2, verbose=False)
t1 = time.time()
v = llm.n_vocab()
bos = llm.token_bos()
prompt = [bos]
while len(prompt) < 512: prompt.append(200 + (len(prompt) * 7919) % (min(v, 30000) - 300))
llm.eval(prompt[:16]); llm.reset()
t2 = time.time(); llm.eval(prompt); t3 = time.time()
for _ in range(128):
    tok = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(v,))))
    llm.eval([tok])
t4 = time.time()
print(f"llama.cpp {path.split('/')[-1]}: load {t1-t0:.3f} s, prefill 512 tokens {512/(t3-t2):.1f} tok/s, decode 128 tokens {128/(t4-t3):.1f} tok/s")
try:
    p = llama_cpp.llama_perf_context(llm._ctx.ctx)
    print(f"   llama.cpp timers: prompt eval {p.n_p_eval} tokens {p.n_p_eval/(p.t_p_eval_ms/1000):.1f} tok/s, eval {p.n_eval} tokens {p.n_eval/(p.t_eval_ms/1000):.1f} tok/s")
except Exception as e:
    print("   (no perf timers:", e, ")")
