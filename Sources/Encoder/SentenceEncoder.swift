// SentenceEncoder — text → normalised sentence embedding with a BERT model (all-MiniLM-L6-v2).
//
// Loads a sentence-transformers model directory once (config.json, model.safetensors,
// tokenizer.json, sentence_bert_config.json), then embeds batches of texts: WordPiece, BERT
// forward over the packed batch, mean pooling over the real tokens, L2 normalisation.

import Foundation
import Tensors
import Tokenizers

/// A BERT sentence encoder. Thread-safe: calls are serialised on an internal lock (each call
/// already uses every configured thread), scratch buffers are reused between calls.
///
/// `embed` is synchronous and CPU-bound (about 25 ms of CPU per 256-token chunk, 3–6 ms per
/// short query on this machine): from async code, call it off the cooperative pool when
/// batches are large. During a forward pass OpenBLAS is set to one thread (the encoder splits
/// the work over its own `threads` workers) and restored afterwards.
public final class SentenceEncoder: @unchecked Sendable {
    /// Identifies the model that produced a vector (stored with vectors by the index).
    public let modelID: String
    /// Embedding dimension (384 for all-MiniLM-L6-v2).
    public let dimension: Int
    public let config: BertConfig
    public let tokenizer: WordPieceTokenizer
    /// Threads used by a forward pass (OpenBLAS and the attention / elementwise workers).
    public let threads: Int
    /// Upper bound on the tokens packed into one forward pass (batches are split to fit).
    public let maxTokensPerPass: Int

    private let weights: BertWeights
    private let lock = NSLock()
    private let scratch = BertScratch()

    /// The files a model directory must hold.
    public static let requiredFiles = ["config.json", "model.safetensors", "tokenizer.json"]

    /// Loads the model in `directory` (e.g. `models/encoder/all-MiniLM-L6-v2`). `threads`
    /// defaults to `RAGCHAT_THREADS` or the number of cores. Throws
    /// `EncoderError.modelFilesMissing` (telling to run `make models`) when files are absent.
    public convenience init(directory: URL, modelID: String? = nil, threads: Int? = nil,
                            maxTokensPerPass: Int = 2048) throws {
        let missing = Self.requiredFiles.filter {
            !FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).path)
        }
        guard missing.isEmpty else { throw EncoderError.modelFilesMissing(directory: directory.path, files: missing) }
        let config = try BertConfig(configFile: directory.appendingPathComponent("config.json"),
                                    sentenceBertConfigFile: directory.appendingPathComponent("sentence_bert_config.json"))
        let tokenizer: WordPieceTokenizer
        let file: SafetensorsFile
        do {
            tokenizer = try WordPieceTokenizer(tokenizerJSON: directory.appendingPathComponent("tokenizer.json"),
                                               maxLength: config.maxSequenceLength)
            file = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        } catch let e as TensorsError {
            throw EncoderError.weights(e)
        }
        try self.init(config: config, weights: file, tokenizer: tokenizer,
                      modelID: modelID ?? directory.standardizedFileURL.lastPathComponent,
                      threads: threads, maxTokensPerPass: maxTokensPerPass)
    }

    /// Builds an encoder from an opened weight file and a tokenizer (used by tests with tiny models).
    public init(config: BertConfig, weights file: SafetensorsFile, tokenizer: WordPieceTokenizer,
                modelID: String, threads: Int? = nil, maxTokensPerPass: Int = 2048) throws {
        self.config = config
        self.tokenizer = tokenizer
        self.modelID = modelID
        self.dimension = config.hiddenSize
        self.threads = max(1, threads ?? BLAS.defaultThreadCount)
        self.maxTokensPerPass = max(maxTokensPerPass, config.maxSequenceLength)
        self.weights = try BertWeights(file: file, config: config)
        guard tokenizer.tokensByID.count <= config.vocabSize else {
            throw EncoderError.invalidConfig(file: file.path, detail: "tokenizer has \(tokenizer.tokensByID.count) tokens, the model \(config.vocabSize)")
        }
    }

    /// Token ids of `text` as the encoder sees them ([CLS] … [SEP], truncated).
    public func tokenize(_ text: String) -> [Int] {
        tokenizer.encode(text)
    }

    /// Embeddings of `texts`, one unit-length vector of `dimension` floats per text, in order.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        try embed(tokenIDs: texts.map { tokenizer.encode($0) })
    }

    /// Embedding of one short text (a query): a single forward pass, no batching overhead.
    public func embed(query: String) throws -> [Float] {
        try embed(tokenIDs: [tokenizer.encode(query)])[0]
    }

    /// Embeddings of already tokenised sequences (each truncated to the maximum sequence length,
    /// an empty one is embedded as `[CLS] [SEP]`).
    public func embed(tokenIDs sequences: [[Int]]) throws -> [[Float]] {
        if sequences.isEmpty { return [] }
        let maxLen = config.maxSequenceLength
        var prepared: [[Int]] = []
        prepared.reserveCapacity(sequences.count)
        for var ids in sequences {
            if ids.isEmpty { ids = tokenizer.prefixIDs + tokenizer.suffixIDs }
            if ids.count > maxLen { ids = Array(ids.prefix(maxLen - tokenizer.suffixIDs.count)) + tokenizer.suffixIDs }
            if ids.count > maxLen { ids = Array(ids.prefix(maxLen)) }
            for id in ids where id < 0 || id >= config.vocabSize {
                throw EncoderError.invalidInput(detail: "token id \(id) is outside the vocabulary (0..<\(config.vocabSize))")
            }
            prepared.append(ids)
        }
        var result = [[Float]]()
        result.reserveCapacity(prepared.count)
        lock.lock()
        defer { lock.unlock() }
        var start = 0
        while start < prepared.count {
            // Greedy pass: as many sequences as fit in maxTokensPerPass (at least one).
            var end = start, tokens = 0
            while end < prepared.count, end == start || tokens + prepared[end].count <= maxTokensPerPass {
                tokens += prepared[end].count
                end += 1
            }
            var ids = [Int32]()
            ids.reserveCapacity(tokens)
            for seq in prepared[start..<end] { for id in seq { ids.append(Int32(id)) } }
            let lengths = prepared[start..<end].map(\.count)
            var out = [Float](repeating: 0, count: lengths.count * dimension)
            out.withUnsafeMutableBufferPointer { o in
                weights.forward(ids: ids, lengths: lengths, scratch: scratch, threads: threads, out: o.baseAddress!)
            }
            for b in 0..<lengths.count { result.append(Array(out[(b * dimension)..<((b + 1) * dimension)])) }
            start = end
        }
        return result
    }
}
