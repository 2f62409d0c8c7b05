// Architectures, from GGUF metadata only. References:
//  - llama: llama.cpp src/models/llama.cpp (LLM_ARCH_LLAMA): RMSNorm, GQA, RoPE "normal" (pairs),
//    SiLU-gated FFN, optional `output.weight` (else tied to token_embd), optional rope_freqs.
//  - gemma3: llama.cpp src/models/gemma3.cpp and Google's gemma_pytorch config: embeddings × sqrt(n_embd),
//    QK-norm, sandwich norms (post_attention_norm, post_ffw_norm), GELU-tanh gated FFN, NEOX RoPE,
//    sliding-window layers (5 of every 6, rope base 10 000) then one global layer (rope.freq_base),
//    query scale 1/sqrt(key_length), tied output; GGUF norm weights already include the +1.
//  - qwen2: llama.cpp src/models/qwen2.cpp: llama layout with q/k/v biases, NEOX RoPE.
import Tensors

/// llama.cpp's tensor vocabulary in camelCase, mapped to GGUF names in this one place.
public enum TensorName {
    public static let tokenEmbd = "token_embd.weight"
    public static let outputNorm = "output_norm.weight"
    public static let output = "output.weight"
    public static let ropeFreqs = "rope_freqs.weight"

    public enum Layer: String, CaseIterable, Sendable {
        case attnNorm = "attn_norm.weight"
        case wq = "attn_q.weight"
        case wk = "attn_k.weight"
        case wv = "attn_v.weight"
        case wo = "attn_output.weight"
        case bq = "attn_q.bias"
        case bk = "attn_k.bias"
        case bv = "attn_v.bias"
        case attnQNorm = "attn_q_norm.weight"
        case attnKNorm = "attn_k_norm.weight"
        case attnPostNorm = "post_attention_norm.weight"
        case ffnNorm = "ffn_norm.weight"
        case ffnGate = "ffn_gate.weight"
        case ffnUp = "ffn_up.weight"
        case ffnDown = "ffn_down.weight"
        case ffnPostNorm = "post_ffw_norm.weight"
    }

    public static func layer(_ i: Int, _ t: Layer) -> String { "blk.\(i).\(t.rawValue)" }
}

extension ModelConfig {
    /// Reads the configuration of a supported architecture from `file`'s metadata.
    public static func read(from file: GGUFFile) throws -> ModelConfig {
        let arch = try file.string("general.architecture")
        guard ["llama", "gemma3", "qwen2", "mistral"].contains(arch) else {
            throw DecoderError.unsupportedArchitecture(file: file.path, architecture: arch)
        }
        func key(_ k: String) -> String { "\(arch).\(k)" }
        let nEmbd = try file.int(key("embedding_length"))
        let nLayer = try file.int(key("block_count"))
        let nHead = try file.int(key("attention.head_count"))
        let nHeadKV = try file.optionalInt(key("attention.head_count_kv")) ?? nHead
        let keyLength = try file.optionalInt(key("attention.key_length")) ?? (nEmbd / max(1, nHead))
        let valueLength = try file.optionalInt(key("attention.value_length")) ?? keyLength
        let nFF = try file.int(key("feed_forward_length"))
        let eps = try file.optionalFloat(key("attention.layer_norm_rms_epsilon")) ?? 1e-5
        let ctx = try file.optionalInt(key("context_length")) ?? 4096
        let embd = try file.tensorInfo(TensorName.tokenEmbd)
        let vocab = try file.optionalInt(key("vocab_size")) ?? (embd.dims.count > 1 ? embd.dims[1] : 0)
        let ropeDims = try file.optionalInt(key("rope.dimension_count")) ?? keyLength
        var ropeBase = try file.optionalFloat(key("rope.freq_base")) ?? 10_000
        var ropeScale: Float = 1
        if let t = try file.optionalString(key("rope.scaling.type")), t == "linear",
           let f = try file.optionalFloat(key("rope.scaling.factor")), f > 0 {
            ropeScale = 1 / f
        } else if let f = try file.optionalFloat(key("rope.scale_linear")), f > 0 {
            ropeScale = 1 / f
        }
        // Before anything is sized by these values (a negative block_count trapped in
        // `Array(repeating:count:)` below).
        try checkHeader(of: file, key: key, embedding: nEmbd, layers: nLayer, feedForward: nFF, context: ctx, vocab: vocab, epsilon: eps)
        var cfg = ModelConfig(
            architecture: arch, embeddingLength: nEmbd, layerCount: nLayer, headCount: nHead, headCountKV: nHeadKV,
            keyLength: keyLength, valueLength: valueLength, feedForwardLength: nFF, vocabSize: vocab,
            trainedContextLength: ctx, normEpsilon: eps, ropeStyle: .normal, ropeDimensions: ropeDims,
            ropeBase: ropeBase, ropeBaseLocal: ropeBase, ropeScale: ropeScale, slidingWindow: nil,
            layerIsLocal: Array(repeating: false, count: nLayer), embeddingScale: 1,
            attentionScale: 1 / Float(keyLength).squareRoot(), activation: .silu, qkNorm: false, postNorms: false,
            qkvBias: false, finalLogitSoftcap: 0,
            bosTokenID: try file.optionalInt("tokenizer.ggml.bos_token_id"),
            eosTokenID: try file.optionalInt("tokenizer.ggml.eos_token_id"))
        switch arch {
        case "gemma3":
            cfg.ropeStyle = .neox
            cfg.embeddingScale = Float(nEmbd).squareRoot()
            cfg.activation = .geluTanh
            cfg.qkNorm = true
            cfg.postNorms = true
            // Query scale: 1/sqrt(key_length) (llama.cpp: f_attention_scale; 27B uses n_embd/n_head).
            cfg.attentionScale = 1 / Float(keyLength).squareRoot()
            cfg.scaleQueries = true
            ropeBase = try file.optionalFloat(key("rope.freq_base")) ?? 1_000_000
            cfg.ropeBase = ropeBase
            cfg.ropeBaseLocal = try file.optionalFloat(key("rope.freq_base_swa")) ?? 10_000
            if let w = try file.optionalInt(key("attention.sliding_window")), w > 0 {
                cfg.slidingWindow = w
                // Pattern: 5 local layers then 1 global (llama.cpp set_swa_pattern(6)).
                let pattern = try file.optionalInt(key("attention.sliding_window_pattern")) ?? 6
                cfg.layerIsLocal = (0..<nLayer).map { pattern > 1 && ($0 % pattern) < pattern - 1 }
            }
            cfg.finalLogitSoftcap = try file.optionalFloat(key("final_logit_softcapping")) ?? 0
        case "qwen2":
            cfg.ropeStyle = .neox
            cfg.qkvBias = true
        default:
            break
        }
        guard nHead > 0, nHeadKV > 0, nHead % nHeadKV == 0, keyLength > 0, ropeDims <= keyLength, ropeDims % 2 == 0 else {
            throw DecoderError.badConfig(file: file.path, detail: "heads \(nHead)/\(nHeadKV), key length \(keyLength), rope dims \(ropeDims)")
        }
        return cfg
    }

    /// A header that contradicts itself or the tensors would load and then fail every request
    /// (`context_length` 0) or compute garbage (`block_count` 0, or fewer blocks than the file
    /// holds): refused at load, naming the key.
    static func checkHeader(of file: GGUFFile, key: (String) -> String, embedding: Int, layers: Int, feedForward: Int,
                            context: Int, vocab: Int, epsilon: Float) throws {
        func bad(_ detail: String) -> DecoderError { .badConfig(file: file.path, detail: detail) }
        guard context >= 16, context <= 1 << 24 else { throw bad("\(key("context_length")) is \(context)") }
        guard embedding > 0, embedding <= 1 << 16 else { throw bad("\(key("embedding_length")) is \(embedding)") }
        guard feedForward > 0, feedForward <= 1 << 20 else { throw bad("\(key("feed_forward_length")) is \(feedForward)") }
        guard vocab > 0, vocab <= 1 << 24 else { throw bad("the vocabulary has \(vocab) tokens") }
        guard epsilon > 0, epsilon < 1, epsilon.isFinite else { throw bad("\(key("attention.layer_norm_rms_epsilon")) is \(epsilon)") }
        // Blocks in the file: one more than the highest `blk.N.` index.
        let blocks = file.tensors.reduce(0) { count, tensor in
            guard tensor.name.hasPrefix("blk.") else { return count }
            let index = tensor.name.dropFirst(4).prefix { $0.isNumber }
            guard let i = Int(index) else { return count }
            return max(count, i == Int.max ? i : i + 1)  // no `+ 1` past Int.max (`blk.9223372036854775807.x`)
        }
        guard layers > 0, layers == blocks else {
            throw bad("\(key("block_count")) is \(layers) but the file holds \(blocks) blocks of tensors")
        }
    }
}
