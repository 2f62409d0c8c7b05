// BertConfig — hyper-parameters of a BERT encoder, read from Hugging Face `config.json`
// (+ `sentence_bert_config.json` for the maximum sequence length).

import Foundation
import Tensors

/// Hyper-parameters of a BERT encoder.
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float
    /// Longest input in tokens ([CLS] and [SEP] included): `max_seq_length` of
    /// `sentence_bert_config.json` when present, else `maxPositions`.
    public var maxSequenceLength: Int

    public var headDim: Int { hiddenSize / numHeads }

    public init(vocabSize: Int, hiddenSize: Int, numLayers: Int, numHeads: Int, intermediateSize: Int,
                maxPositions: Int, typeVocabSize: Int = 2, layerNormEps: Float = 1e-12, maxSequenceLength: Int? = nil) {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.maxSequenceLength = min(maxSequenceLength ?? maxPositions, maxPositions)
    }

    /// Reads `config.json` and, when present beside it, `sentence_bert_config.json`.
    public init(configFile: URL, sentenceBertConfigFile: URL? = nil) throws {
        let path = configFile.path
        let object = try Self.readJSON(configFile)
        func int(_ key: String) throws -> Int {
            guard let n = (object[key] as? NSNumber)?.intValue else {
                throw EncoderError.invalidConfig(file: path, detail: "missing integer '\(key)'")
            }
            return n
        }
        if let type = object["model_type"] as? String, !["bert", "roberta", "xlm-roberta"].contains(type) {
            throw EncoderError.invalidConfig(file: path, detail: "model_type '\(type)' is not a BERT encoder")
        }
        if let act = object["hidden_act"] as? String, act != "gelu" {
            throw EncoderError.invalidConfig(file: path, detail: "hidden_act '\(act)' is not supported (only gelu)")
        }
        if let pet = object["position_embedding_type"] as? String, pet != "absolute" {
            throw EncoderError.invalidConfig(file: path, detail: "position_embedding_type '\(pet)' is not supported")
        }
        var maxSeq: Int?
        if let sbert = sentenceBertConfigFile, FileManager.default.fileExists(atPath: sbert.path) {
            maxSeq = (try Self.readJSON(sbert)["max_seq_length"] as? NSNumber)?.intValue
        }
        self.init(vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  numLayers: try int("num_hidden_layers"), numHeads: try int("num_attention_heads"),
                  intermediateSize: try int("intermediate_size"), maxPositions: try int("max_position_embeddings"),
                  typeVocabSize: (object["type_vocab_size"] as? NSNumber)?.intValue ?? 2,
                  layerNormEps: (object["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-12,
                  maxSequenceLength: maxSeq)
        guard hiddenSize > 0, numHeads > 0, hiddenSize % numHeads == 0, numLayers > 0, intermediateSize > 0,
              maxPositions > 2, vocabSize > 0 else {
            throw EncoderError.invalidConfig(file: path, detail: "inconsistent sizes (hidden \(hiddenSize), heads \(numHeads), layers \(numLayers))")
        }
    }

    static func readJSON(_ url: URL) throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EncoderError.invalidConfig(file: url.path, detail: "cannot read (\(error.localizedDescription))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw EncoderError.invalidConfig(file: url.path, detail: "not a JSON object")
        }
        return object
    }
}
