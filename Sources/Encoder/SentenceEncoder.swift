// SentenceEncoder — text → normalised sentence embedding, with one of two models:
// - multilingual-e5-small (default): one E5S1 file (`models/encoder/multilingual-e5-small/e5-small-q4.bin`),
//   Unigram tokenizer, 4-bit XLM-R BERT (E5Model), `query: ` / `passage: ` prefixes;
// - a sentence-transformers BERT folder (all-MiniLM-L6-v2: config.json, model.safetensors,
//   tokenizer.json, sentence_bert_config.json), WordPiece, f32 BERT (BertModel), no prefixes.
// Both: batches packed into passes, mean pooling over the real tokens, L2 normalisation.

import Foundation
import Tensors
import Tokenizers

/// What a text is to an encoder that distinguishes them (e5 prefixes `query: ` or `passage: `).
public enum TextRole: Sendable {
    /// A question, or any text compared with other short texts (sentence similarity).
    case query
    /// A document chunk to be found.
    case passage
}

/// A sentence encoder. Thread-safe: calls are serialised on an internal lock (each call
/// already uses every configured thread), scratch buffers are reused between calls.
///
/// `embed` is synchronous and CPU-bound: from async code, call it off the cooperative pool when
/// batches are large. During a forward pass OpenBLAS is set to one thread (the encoder splits
/// the work over its own `threads` workers) and restored afterwards.
public final class SentenceEncoder: @unchecked Sendable {
    /// Which model family runs.
    public enum Kind: String, Sendable {
        /// multilingual-e5 from an E5S1 file.
        case e5
        /// A sentence-transformers BERT folder (all-MiniLM-L6-v2).
        case bert
    }

    public let kind: Kind
    /// Identifies the model and its weights (stored with vectors by the index): for e5 the file's
    /// name and a fingerprint of its bytes, so other weights under the same name give another id.
    public let modelID: String
    /// Embedding dimension (384 for both models).
    public let dimension: Int
    /// Sizes of the network (for e5, its BERT-equivalent sizes).
    public let config: BertConfig
    /// Threads used by a forward pass.
    public let threads: Int
    /// Upper bound on the tokens packed into one forward pass (batches are split to fit).
    public let maxTokensPerPass: Int
    /// Longest input in tokens, framing tokens included; longer texts are cut.
    public var maxSequenceLength: Int { config.maxSequenceLength }

    private enum Backend {
        case bert(BertWeights, WordPieceTokenizer, BertScratch)
        case e5(E5Weights, UnigramTokenizer, E5State, ThreadPool)
    }

    private let backend: Backend
    private let lock = NSLock()

    /// The files a BERT model directory must hold.
    public static let requiredFiles = ["config.json", "model.safetensors", "tokenizer.json"]
    /// The e5 file `make models` installs, relative to the repository.
    public static let defaultE5Path = "models/encoder/multilingual-e5-small/e5-small-q4.bin"

    /// Loads the model at `path`: an E5S1 `.bin` file, a folder holding one (and no `config.json`),
    /// or a sentence-transformers BERT folder. `threads` defaults to `RAGCHAT_THREADS` or the
    /// number of cores. Throws `EncoderError.modelFilesMissing` (telling to run `make models`) when
    /// nothing is there, `EncoderError.weights` naming the file and the problem when a file is bad.
    public convenience init(path: URL, modelID: String? = nil, threads: Int? = nil, maxTokensPerPass: Int? = nil) throws {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path.path, isDirectory: &isDirectory) else {
            let name = path.pathExtension == "bin" ? path.lastPathComponent : "config.json, model.safetensors, tokenizer.json or an E5S1 .bin file"
            throw EncoderError.modelFilesMissing(directory: path.pathExtension == "bin" ? path.deletingLastPathComponent().path : path.path,
                                                 files: [name])
        }
        if !isDirectory.boolValue {
            try self.init(e5File: path, modelID: modelID, threads: threads, maxTokensPerPass: maxTokensPerPass ?? 4096)
            return
        }
        if !fm.fileExists(atPath: path.appendingPathComponent("config.json").path) {
            let bins = ((try? fm.contentsOfDirectory(atPath: path.path)) ?? []).filter { $0.hasSuffix(".bin") }.sorted()
            if bins.count == 1 {
                try self.init(e5File: path.appendingPathComponent(bins[0]), modelID: modelID, threads: threads,
                              maxTokensPerPass: maxTokensPerPass ?? 4096)
                return
            }
            if bins.count > 1 {
                throw EncoderError.invalidConfig(file: path.path, detail: "several .bin files (\(bins.joined(separator: ", "))): name the encoder file")
            }
        }
        try self.init(directory: path, modelID: modelID, threads: threads, maxTokensPerPass: maxTokensPerPass ?? 2048)
    }

    /// Loads the sentence-transformers BERT model in `directory` (e.g. `models/encoder/all-MiniLM-L6-v2`).
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

    /// Builds a BERT encoder from an opened weight file and a tokenizer (used by tests with tiny models).
    public init(config: BertConfig, weights file: SafetensorsFile, tokenizer: WordPieceTokenizer,
                modelID: String, threads: Int? = nil, maxTokensPerPass: Int = 2048) throws {
        self.kind = .bert
        self.config = config
        self.modelID = modelID
        self.dimension = config.hiddenSize
        self.threads = max(1, threads ?? BLAS.defaultThreadCount)
        self.maxTokensPerPass = max(maxTokensPerPass, config.maxSequenceLength)
        let weights = try BertWeights(file: file, config: config)
        guard tokenizer.tokensByID.count <= config.vocabSize else {
            throw EncoderError.invalidConfig(file: file.path, detail: "tokenizer has \(tokenizer.tokensByID.count) tokens, the model \(config.vocabSize)")
        }
        backend = .bert(weights, tokenizer, BertScratch())
    }

    /// Loads an E5S1 file (multilingual-e5). The model id defaults to the file's name without its
    /// extension, a dash and 12 hex digits of `E5File.contentHash()`.
    public init(e5File url: URL, modelID: String? = nil, threads: Int? = nil, maxTokensPerPass: Int = 4096) throws {
        let file: E5File
        let tokenizer: UnigramTokenizer
        do {
            file = try E5File(path: url.path)
            tokenizer = try UnigramTokenizer(file: file)
        } catch let e as TensorsError {
            throw EncoderError.weights(e)
        } catch let e as TokenizersError {
            throw EncoderError.invalidConfig(file: url.path, detail: e.description)
        }
        let weights = try E5Weights(file: file)
        guard tokenizer.pieceCount <= weights.config.vocabSize else {
            throw EncoderError.invalidConfig(file: url.path, detail: "\(tokenizer.pieceCount) tokenizer pieces, \(weights.config.vocabSize) embedding rows")
        }
        self.kind = .e5
        var config = weights.config.bertConfig
        config.maxSequenceLength = weights.config.maxPositions
        self.config = config
        self.dimension = weights.config.hiddenSize
        let t = max(1, threads ?? BLAS.defaultThreadCount)
        self.threads = t
        self.maxTokensPerPass = max(maxTokensPerPass, weights.config.maxPositions)
        if let modelID {
            self.modelID = modelID
        } else {
            let hash = String(file.contentHash(), radix: 16)
            let padded = String(repeating: "0", count: 16 - hash.count) + hash
            self.modelID = url.deletingPathExtension().lastPathComponent + "-" + padded.prefix(12)
        }
        backend = .e5(weights, tokenizer, E5State(), ThreadPool(threads: t))
    }

    // MARK: tokens

    /// Token ids of `text` as the encoder sees them (e5: `<s>`, the prefix for `role`, the text,
    /// `</s>`; BERT: `[CLS]` … `[SEP]`), cut to `maxSequenceLength`.
    public func tokenize(_ text: String, as role: TextRole = .passage) -> [Int] {
        switch backend {
        case let .bert(_, tokenizer, _):
            return tokenizer.encode(text)
        case let .e5(_, tokenizer, _, _):
            let prefix = role == .query ? "query: " : "passage: "
            let content = tokenizer.encode(prefix + text, limit: config.maxSequenceLength - 2)
            return [tokenizer.bosID] + content + [tokenizer.eosID]
        }
    }

    // MARK: embeddings

    /// Embeddings of `texts` as passages (document chunks), one unit-length vector of `dimension`
    /// floats per text, in order.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        try embed(texts, as: .passage)
    }

    /// Embedding of one question.
    public func embed(query: String) throws -> [Float] {
        try embed([query], as: .query)[0]
    }

    /// Embeddings of texts compared with each other or with a question (sentence similarity):
    /// queries to e5.
    public func embed(queries: [String]) throws -> [[Float]] {
        try embed(queries, as: .query)
    }

    /// Embeddings of `texts` in the given role.
    public func embed(_ texts: [String], as role: TextRole) throws -> [[Float]] {
        try embed(tokenIDs: texts.map { tokenize($0, as: role) })
    }

    /// Embeddings of already tokenised sequences, framing tokens included (each cut to the maximum
    /// sequence length, keeping its last token; an empty one is embedded as the two framing tokens).
    public func embed(tokenIDs sequences: [[Int]]) throws -> [[Float]] {
        if sequences.isEmpty { return [] }
        let maxLen = config.maxSequenceLength
        let (prefix, suffix): ([Int], [Int])
        switch backend {
        case let .bert(_, tokenizer, _): (prefix, suffix) = (tokenizer.prefixIDs, tokenizer.suffixIDs)
        case let .e5(_, tokenizer, _, _): (prefix, suffix) = ([tokenizer.bosID], [tokenizer.eosID])
        }
        var prepared: [[Int]] = []
        prepared.reserveCapacity(sequences.count)
        for var ids in sequences {
            if ids.isEmpty { ids = prefix + suffix }
            if ids.count > maxLen { ids = Array(ids.prefix(maxLen - suffix.count)) + suffix }
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
                switch backend {
                case let .bert(weights, _, scratch):
                    weights.forward(ids: ids, lengths: lengths, scratch: scratch, threads: threads, out: o.baseAddress!)
                case let .e5(weights, _, state, pool):
                    weights.forward(ids: ids, lengths: lengths, state: state, pool: pool, out: o.baseAddress!)
                }
            }
            for b in 0..<lengths.count { result.append(Array(out[(b * dimension)..<((b + 1) * dimension)])) }
            start = end
        }
        return result
    }
}
