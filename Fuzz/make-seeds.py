#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (tiny valid inputs) under Fuzz/seeds/<target>/.

Usage: Fuzz/make-seeds.py [out-dir]   (default: Fuzz/seeds next to this script)
Layouts as in Sources/Tensors/{GGUF,Safetensors,E5File}.swift and Sources/TestSupport's writers.
"""
import json, os, struct, sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- GGUF -------------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    if t == STR: return gstr(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gval(et, x) for x in items)
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}[t]
    return struct.pack("<" + fmt, v)


def gguf(kv, tensors, align=32):
    """kv: [(key, type, value)], tensors: [(name, dims, ggml type, bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv))
    for k, t, v in kv:
        out += gstr(k) + struct.pack("<I", t) + gval(t, v)
    off = 0
    for name, dims, ty, data in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ty, off)
        off += (len(data) + align - 1) // align * align
    out += b"\0" * (-len(out) % align)
    for *_, data in tensors:
        out += data + b"\0" * (-len(data) % align)
    return out


def f32(n, scale=0.01):
    return b"".join(struct.pack("<f", scale * ((i * 7) % 13 - 6)) for i in range(n))


def q8_0(rows, cols):  # ggml type 8: fp16 scale + 32 int8
    return b"".join(struct.pack("<e", 0.01) + bytes((i * 5) % 256 for i in range(32)) for _ in range(rows * cols // 32))


def q4_0m(rows, cols):  # ggml type 2: fp16 scale + 16 bytes of nibbles
    return b"".join(struct.pack("<e", 0.02) + bytes((i * 37) % 256 for i in range(16)) for _ in range(rows * cols // 32))


def decoder_model(arch, tok_model):
    e, ff, v, L = 32, 32, 8, 1
    toks = ["<unk>", "<s>", "</s>", "▁bon", "jour", "▁le", "▁monde", "é"] if tok_model == "llama" else \
           ["<|endoftext|>", "b", "o", "n", "bo", "bon", "Ġ", "Ġbon"]
    kv = [("general.architecture", STR, arch), ("general.alignment", U32, 32),
          (f"{arch}.embedding_length", U32, e), (f"{arch}.block_count", U32, L),
          (f"{arch}.attention.head_count", U32, 2), (f"{arch}.attention.head_count_kv", U32, 1),
          (f"{arch}.feed_forward_length", U32, ff), (f"{arch}.context_length", U32, 128),
          (f"{arch}.attention.layer_norm_rms_epsilon", F32, 1e-6), (f"{arch}.rope.freq_base", F32, 10000.0),
          ("tokenizer.ggml.model", STR, tok_model), ("tokenizer.ggml.tokens", ARR, (STR, toks)),
          ("tokenizer.ggml.scores", ARR, (F32, [-float(i) for i in range(v)])),
          ("tokenizer.ggml.token_type", ARR, (I32, [2, 3, 3, 1, 1, 1, 1, 1] if tok_model == "llama" else [3] + [1] * 7)),
          ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
          ("tokenizer.chat_template", STR, "{% for m in messages %}<start_of_turn>{{ m.content }}<end_of_turn>{% endfor %}")]
    if tok_model == "gpt2":
        kv += [("tokenizer.ggml.merges", ARR, (STR, ["b o", "bo n", "Ġ bon"])), ("tokenizer.ggml.pre", STR, "qwen2")]
    if arch == "gemma3":
        kv += [("gemma3.attention.sliding_window", U32, 16), ("gemma3.attention.key_length", U32, 16)]
    ts = [("token_embd.weight", [e, v], 8, q8_0(v, e)), ("output_norm.weight", [e], 0, f32(e, 1.0))]
    for i in range(L):
        b = f"blk.{i}."
        ts += [(b + "attn_norm.weight", [e], 0, f32(e, 1.0)), (b + "attn_q.weight", [e, e], 2, q4_0m(e, e)),
               (b + "attn_k.weight", [e, 16], 2, q4_0m(16, e)), (b + "attn_v.weight", [e, 16], 2, q4_0m(16, e)),
               (b + "attn_output.weight", [e, e], 8, q8_0(e, e)), (b + "ffn_norm.weight", [e], 1, struct.pack("<e", 1.0) * e),
               (b + "ffn_gate.weight", [e, ff], 2, q4_0m(ff, e)), (b + "ffn_up.weight", [e, ff], 2, q4_0m(ff, e)),
               (b + "ffn_down.weight", [ff, e], 2, q4_0m(e, ff))]
    return gguf(kv, ts)


put("GGUF", "llama-spm", decoder_model("llama", "llama"))
put("GGUF", "qwen2-bpe", decoder_model("qwen2", "gpt2"))
put("GGUF", "gemma3", decoder_model("gemma3", "llama"))
put("GGUF", "all-value-types", gguf([("u8", U8, 1), ("i8", I8, -1), ("u16", U16, 2), ("i16", I16, -2), ("u32", U32, 3),
                                      ("i32", I32, -3), ("f32", F32, 0.5), ("b", BOOL, True), ("s", STR, "été"),
                                      ("u64", U64, 4), ("i64", I64, -4), ("f64", F64, 0.25),
                                      ("a", ARR, (ARR, [(U8, [1, 2]), (STR, ["x"])]))],
                                     [("t", [32, 2], 2, (struct.pack("<e", 0.5) + bytes(16)) * 2)]))

# --- safetensors --------------------------------------------------------------------------------
def safetensors(entries, meta=None):
    header, data = {}, b""
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta is not None: header["__metadata__"] = meta
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


put("Safetensors", "mixed", safetensors([("a.weight", "F32", [2, 3], f32(6)), ("b.bias", "F16", [4], struct.pack("<4e", 1, -2, 0.5, 0)),
                                         ("c", "BF16", [2], b"\x80\x3f\x00\x40"), ("d", "I64", [1], struct.pack("<q", 7)),
                                         ("scalar", "F32", [], f32(1)), ("empty", "F32", [0, 3], b"")], {"format": "pt"}))
put("Safetensors", "one", safetensors([("w", "F32", [1], f32(1))]))

# --- E5S1 ---------------------------------------------------------------------------------------
def q4_0(n):
    return (struct.pack("<e", 0.02) + bytes((i * 37) % 256 for i in range(16))) * (n // 32)


def e5():
    h, L, heads, ff, pos = 32, 1, 2, 32, 4
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁bon", "jour", "é"]
    v = len(pieces)
    out = b"E5S1" + struct.pack("<I", 1) + struct.pack("<7i", h, L, heads, ff, v, pos, 1) + struct.pack("<fi", 1e-12, 32)
    blob = b"".join(p.encode() for p in pieces)
    out += struct.pack("<5iQ", v, 0, 2, 1, 3, len(blob))
    o = 0
    offs = [0]
    for p in pieces:
        o += len(p.encode()); offs.append(o)
    out += b"".join(struct.pack("<I", x) for x in offs) + b"".join(struct.pack("<f", -i / 2) for i in range(v)) + blob
    norm = struct.pack("<IB", 0xA0, 1) + struct.pack("<I", 0x20) + struct.pack("<IB", 0xAD, 0)
    out += struct.pack("<iI", 2, len(norm)) + norm
    ents = [("emb.word", 1, v * h, q4_0(v * h)), ("emb.pos", 0, pos * h, f32(pos * h)), ("emb.type", 0, h, f32(h)),
            ("emb.ln.w", 0, h, f32(h, 1)), ("emb.ln.b", 0, h, f32(h))]
    for i in range(L):
        l = f"l{i}."
        for m, rows, cols in [("q.w", h, h), ("k.w", h, h), ("v.w", h, h), ("ao.w", h, h), ("fi.w", ff, h), ("fo.w", h, ff)]:
            ents.append((l + m, 1, rows * cols, q4_0(rows * cols)))
        for b, n in [("q.b", h), ("k.b", h), ("v.b", h), ("ao.b", h), ("aln.w", h), ("aln.b", h), ("fi.b", ff), ("fo.b", h), ("oln.w", h), ("oln.b", h)]:
            ents.append((l + b, 0, n, f32(n)))
    dsize = 4 + sum(2 + len(n) + 1 + 4 + 8 + 8 for n, *_ in ents)
    data_off = (len(out) + dsize + 63) // 64 * 64
    offsets = []
    for _, _, _, d in ents:
        offsets.append(data_off); data_off = (data_off + len(d) + 63) // 64 * 64
    out += struct.pack("<i", len(ents))
    for (n, t, c, d), off in zip(ents, offsets):
        out += struct.pack("<H", len(n)) + n.encode() + bytes([t]) + struct.pack("<IQQ", c, off, len(d))
    for (_, _, _, d), off in zip(ents, offsets):
        out += b"\0" * (off - len(out)) + d
    return out


put("E5File", "tiny-model", e5())

# --- tokenizers ---------------------------------------------------------------------------------
put("Tokenizers", "french", "Bonjour le monde ! L'été, c'est « très » chaud : 123 °C.\n")
put("Tokenizers", "special", "<|im_start|>user\nQuoi ?<|im_end|><s></s>[CLS] [MASK]")
put("Tokenizers", "mixed-scripts", "ﬁn naïve 東京 Ελλάδα 🙂\u00a0\u200b\u00ad e\u0301")
put("Tokenizers", "tokenizer.json", json.dumps({
    "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
              "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4, "bon": 5, "##jour": 6, "le": 7}},
    "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
    "pre_tokenizer": {"type": "BertPreTokenizer"},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "[CLS]"}}, {"Sequence": {"id": "A"}}, {"SpecialToken": {"id": "[SEP]"}}]},
    "added_tokens": [{"content": "[MASK]", "special": True}]}))

# --- documents (first byte: kind and chunk size) -------------------------------------------------
para = "Le chat dort sur le canapé. Il rêve de souris ! Puis il se réveille ?\n\n"
put("Documents", "utf8-text", b"\x10" + (para * 4).encode())
put("Documents", "markdown", b"\x21" + "# Titre\n\n- un\n- deux\n\n```\ncode\n```\n\n| a | b |\n".encode() + para.encode())
put("Documents", "utf8-bom", b"\x00\xef\xbb\xbf" + para.encode())
put("Documents", "utf16le-bom", b"\x02\xff\xfe" + para.encode("utf-16-le"))
put("Documents", "utf16be-bom", b"\x03\xfe\xff" + para.encode("utf-16-be"))
put("Documents", "cp1252", b"\x08" + para.encode("cp1252") + b"\x80\x92\x9c")
put("Documents", "pages", b"\x40" + (para + "\f").encode() * 3 + "ﬁ\u00a0e\u0301\r\n\t-\ncoupé".encode())

# --- requests -----------------------------------------------------------------------------------
put("Requests", "question", '{"question": "Quelle heure est-il ?"}')
put("Requests", "full", '{"question": "Et ensuite ?", "top_k": 5, "history": [{"role": "user", "content": "Bonjour"}, {"role": "assistant", "content": "Salut"}]}')
put("Requests", "escaped-keys", '{"question": "a\\"b\\u00e9", "\\u0071uestion2": [1, {"x": null}]}')
put("Requests", "bad-role", '{"question": " x ", "history": [{"role": "system", "content": ""}], "top_k": 0}')
