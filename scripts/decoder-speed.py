#!/usr/bin/env python3
"""Engine against llama.cpp, alternately on the same files: `ragchat bench decoder` and
scripts/llama-cpp-bench.py (llama-cpp-python 0.3.36 built on the machine), synthetic prompt of each
size (one batch) then 128 greedy tokens, 2 threads. Prints every run, then a Markdown table of the
medians and the ratios engine / llama.cpp. Not run by CI. From the repository root, after
`swift build -c release`:

    python3 scripts/decoder-speed.py MODEL... [--rounds 2] [--prompts 512 1500] [--llama-python /opt/venv-llama/bin/python]
"""
import argparse, re, statistics, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument("models", nargs="+")
ap.add_argument("--rounds", type=int, default=2)
ap.add_argument("--prompts", type=int, nargs="+", default=[512, 1500])
ap.add_argument("--decode", type=int, default=128)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--llama-python", default="/opt/venv-llama/bin/python")
ap.add_argument("--ragchat", default=".build/release/ragchat")
args = ap.parse_args()

num = r"([0-9.]+)"
runs = {}  # (model, prompt, who) -> list of (prefill, decode, rss)


def run(who, model, prompt):
    if who == "engine":
        cmd = [args.ragchat, "bench", "decoder", model, "--prompt", str(prompt), "--decode", str(args.decode),
               "--threads", str(args.threads)]
    else:
        cmd = [args.llama_python, "scripts/llama-cpp-bench.py", model, "--prompt", str(prompt), "--decode",
               str(args.decode), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(f"[{who}] {out.strip()}", flush=True)
    pre = float(re.search(rf"prefill {prompt} tokens {num} tok/s", out).group(1))
    dec = float(re.search(rf"decode {args.decode} tokens {num} tok/s", out).group(1))
    rss = float(re.search(rf"peak RSS {num} MiB", out).group(1))
    runs.setdefault((model, prompt, who), []).append((pre, dec, rss))


for r in range(args.rounds):
    order = ["engine", "llama.cpp"] if r % 2 == 0 else ["llama.cpp", "engine"]
    for model in args.models:
        for prompt in args.prompts:
            for who in order:
                run(who, model, prompt)

print()
print("| model | prompt | prefill tok/s engine / llama.cpp | ratio | decode tok/s engine / llama.cpp | ratio | peak RSS engine / llama.cpp (MiB) |")
print("|---|---|---|---|---|---|---|")
for model in args.models:
    for prompt in args.prompts:
        e, l = runs[(model, prompt, "engine")], runs[(model, prompt, "llama.cpp")]
        med = lambda xs, i: statistics.median(x[i] for x in xs)
        name = model.split("/")[-1].removesuffix(".gguf")
        print(f"| {name} | {prompt} | {med(e, 0):.1f} / {med(l, 0):.1f} | {med(e, 0) / med(l, 0):.2f}× "
              f"| {med(e, 1):.1f} / {med(l, 1):.1f} | {med(e, 1) / med(l, 1):.2f}× | {max(x[2] for x in e):.0f} / {max(x[2] for x in l):.0f} |")
print(f"\n(medians of {args.rounds} alternating rounds; {args.decode} decoded tokens; {args.threads} threads)")
