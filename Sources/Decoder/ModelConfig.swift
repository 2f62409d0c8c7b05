// Hyper-parameters of a GGUF language model, read from metadata only (`<arch>.*` keys).
import Tensors

public enum RopeStyle: Sendable {
    /// Rotates adjacent pairs (2i, 2i+1): llama.cpp's LLAMA_ROPE_TYPE_NORM (llama family).
    case normal
    /// Rotates (i, i + d/2): LLAMA_ROPE_TYPE_NEOX (gemma3, qwen2).
    case neox
}

public enum FFNActivation: Sendable {
    case silu
    case geluTanh
}

public struct ModelConfig: Sendable {
    public var architecture: String
    public var embeddingLength: Int
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    /// Per-head key/query length.
    public var keyLength: Int
    /// Per-head value length.
    public var valueLength: Int
    public var feedForwardLength: Int
    public var vocabSize: Int
    /// Context length the model was trained for.
    public var trainedContextLength: Int
    public var normEpsilon: Float
    public var ropeStyle: RopeStyle
    /// Leading dimensions of each head that are rotated.
    public var ropeDimensions: Int
    /// Base frequency of global (full-attention) layers.
    public var ropeBase: Float
    /// Base frequency of sliding-window layers.
    public var ropeBaseLocal: Float
    /// Position multiplier for global layers (1 / linear scaling factor).
    public var ropeScale: Float
    /// Window of sliding-window layers (keys at distance < window are visible); nil = none.
    public var slidingWindow: Int?
    /// Per layer: true when the layer uses the sliding window.
    public var layerIsLocal: [Bool]
    /// Multiplier of the token embeddings (sqrt(n_embd) for Gemma).
    public var embeddingScale: Float
    /// Multiplier of q·k.
    public var attentionScale: Float
    public var activation: FFNActivation
    /// Per-head RMS norm of q and k (Gemma 3).
    public var qkNorm: Bool
    /// Norms after attention and after the FFN (Gemma's sandwich norms).
    public var postNorms: Bool
    /// Biases on q, k, v (Qwen 2).
    public var qkvBias: Bool
    /// Soft-capping of final logits (0 = none).
    public var finalLogitSoftcap: Float
    /// Queries are multiplied by `attentionScale` before q·k (Gemma 3 in llama.cpp) rather than the scores.
    public var scaleQueries = false

    public var bosTokenID: Int?
    public var eosTokenID: Int?
}
