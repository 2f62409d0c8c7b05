import Foundation
import Tensors
import TestSupport

/// Writes tiny random-weight GGUF models of each architecture for unit tests.
enum TinyModels {
    struct Spec {
        var arch = "llama"
        var weightType: GGMLType = .q8_0
        var embd = 256, layers = 3, heads = 4, headsKV = 2, headDim = 64, ff = 512, vocab = 96
        var slidingWindow = 4
    }

    static func path(_ name: String) -> String {
        NSTemporaryDirectory() + "tiny-\(getpid())-\(name).gguf"
    }

    /// - Parameter metadata: keys set after the spec's (to write inconsistent headers).
    static func write(_ s: Spec, to path: String, omit: Set<String> = [], metadata: [(String, GGUFValue)] = []) throws {
        var w = GGUFWriter()
        let a = s.arch
        w.set("general.architecture", .string(a))
        w.set("\(a).context_length", .uint32(256))
        w.set("\(a).embedding_length", .uint32(UInt32(s.embd)))
        w.set("\(a).block_count", .uint32(UInt32(s.layers)))
        w.set("\(a).feed_forward_length", .uint32(UInt32(s.ff)))
        w.set("\(a).attention.head_count", .uint32(UInt32(s.heads)))
        w.set("\(a).attention.head_count_kv", .uint32(UInt32(s.headsKV)))
        w.set("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6))
        w.set("\(a).rope.freq_base", .float32(a == "gemma3" ? 1_000_000 : 10_000))
        if a == "gemma3" {
            w.set("\(a).attention.key_length", .uint32(UInt32(s.headDim)))
            w.set("\(a).attention.value_length", .uint32(UInt32(s.headDim)))
            w.set("\(a).attention.sliding_window", .uint32(UInt32(s.slidingWindow)))
        } else {
            w.set("\(a).rope.dimension_count", .uint32(UInt32(s.headDim)))
        }
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.tokens", .array(.string((0..<s.vocab).map { "t\($0)" })))
        w.set("tokenizer.ggml.bos_token_id", .uint32(1))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        for (key, value) in metadata { w.set(key, value) }
        var seed: UInt64 = 1
        func mat(_ name: String, rows: Int, cols: Int, type: GGMLType? = nil, scale: Float = 1) {
            guard !omit.contains(name) else { return }
            seed += 1
            let t = type ?? s.weightType
            let sc = scale / Float(cols).squareRoot() * 3
            w.addTensor(name, dims: [cols, rows], type: t,
                        data: GGUFWriter.randomTensorData(t, rows: rows, cols: cols, seed: seed, scale: sc))
        }
        func vec(_ name: String, _ n: Int, around v: Float = 1) {
            guard !omit.contains(name) else { return }
            seed += 1
            var rng = GGUFSplitMix(seed: seed)
            w.addTensor(name, dims: [n], floats: (0..<n).map { _ in v + Float(rng.next() >> 40) / Float(1 << 24) * 0.2 - 0.1 })
        }
        mat("token_embd.weight", rows: s.vocab, cols: s.embd, type: .q8_0, scale: 8)
        vec("output_norm.weight", s.embd)
        if a == "qwen2" { mat("output.weight", rows: s.vocab, cols: s.embd, type: .q6_K) }
        for l in 0..<s.layers {
            let p = "blk.\(l)."
            vec(p + "attn_norm.weight", s.embd)
            mat(p + "attn_q.weight", rows: s.heads * s.headDim, cols: s.embd)
            mat(p + "attn_k.weight", rows: s.headsKV * s.headDim, cols: s.embd)
            mat(p + "attn_v.weight", rows: s.headsKV * s.headDim, cols: s.embd)
            mat(p + "attn_output.weight", rows: s.embd, cols: s.heads * s.headDim)
            vec(p + "ffn_norm.weight", s.embd)
            mat(p + "ffn_gate.weight", rows: s.ff, cols: s.embd)
            mat(p + "ffn_up.weight", rows: s.ff, cols: s.embd)
            mat(p + "ffn_down.weight", rows: s.embd, cols: s.ff)
            if a == "qwen2" {
                vec(p + "attn_q.bias", s.heads * s.headDim, around: 0)
                vec(p + "attn_k.bias", s.headsKV * s.headDim, around: 0)
                vec(p + "attn_v.bias", s.headsKV * s.headDim, around: 0)
            }
            if a == "gemma3" {
                vec(p + "attn_q_norm.weight", s.headDim)
                vec(p + "attn_k_norm.weight", s.headDim)
                vec(p + "post_attention_norm.weight", s.embd)
                vec(p + "post_ffw_norm.weight", s.embd)
            }
        }
        try w.write(to: path)
    }
}
