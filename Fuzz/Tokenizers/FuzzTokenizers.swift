// libFuzzer target: the tokenizers on arbitrary text, with small vocabularies built here:
// WordPiece (BERT), Unigram (e5), SentencePiece and byte-level BPE (GGUF `llama` / `gpt2`, one BPE
// per pre-tokenizer family). Encode then decode must not trap. An input starting with `{` is
// instead read as a `tokenizer.json` (the WordPiece loader), whose errors must name the file.
// Built by `make fuzz`.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FuzzSupport
import Tokenizers

private let jsonPath = "/tmp/ragchat-fuzz-\(getpid())-tokenizer.json"

private let words = ["bon", "jour", "le", "monde", "é", "es", "ent", "tion", "a", "e", "l", "re", "de", "qu", "123", "!"]

private let wordPiece: WordPieceTokenizer = {
    var vocab: [String: Int] = [:]
    for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] { vocab[t] = vocab.count }
    for w in words { vocab[w] = vocab.count; vocab["##" + w] = vocab.count }
    return WordPieceTokenizer(vocabulary: vocab, maxInputCharsPerWord: 12, maxLength: 32)
}()

private let unigram: UnigramTokenizer = {
    var pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁"]
    for w in words { pieces.append(w); pieces.append("▁" + w) }
    let scores = pieces.indices.map { -Float($0) / 4 }
    let map: [UInt32: [UInt32]] = [0xA0: [0x20], 0xFB01: [0x66, 0x69], 0xAD: [], 0x2019: [0x27]]
    do {
        return try UnigramTokenizer(vocabulary: UnigramVocabulary(pieces: pieces.map { Array($0.utf8) }, scores: scores,
                                                                  bos: 0, eos: 2, pad: 1, unk: 3, normalization: map))
    } catch { reportFinding("the harness's Unigram vocabulary was refused: \(error)") }
}()

private let sentencePiece: any TextTokenizer = {
    var tokens = ["<unk>", "<s>", "</s>"], types: [GGUFTokenType] = [.unknown, .control, .control]
    for b in 0..<256 { tokens.append(String(format: "<0x%02X>", b)); types.append(.byte) }
    for t in ["<|im_start|>", "<|im_end|>"] { tokens.append(t); types.append(.control) }
    tokens.append("▁"); types.append(.normal)
    for w in words { tokens.append(w); tokens.append("▁" + w); types += [.normal, .normal] }
    let scores = tokens.indices.map { -Float($0) / 8 }
    do {
        return try SentencePieceTokenizer(vocabulary: TokenizerVocabulary(
            tokens: tokens, scores: scores, types: types, bosID: 1, eosID: 2, unknownID: 0,
            addBOS: true, addSpacePrefix: true))
    } catch { reportFinding("the harness's SentencePiece vocabulary was refused: \(error)") }
}()

/// GPT-2's byte → printable character map.
private let byteChars: [Character] = {
    var map = [Character](repeating: " ", count: 256)
    var n = 0
    for b in 0..<256 {
        if (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) {
            map[b] = Character(Unicode.Scalar(UInt32(b))!)
        } else {
            map[b] = Character(Unicode.Scalar(UInt32(256 + n))!)
            n += 1
        }
    }
    return map
}()

private func byteLevel(_ s: String) -> String { String(s.utf8.map { byteChars[Int($0)] }) }

private let bpe: [any TextTokenizer] = ["default", "llama3", "qwen2", "gpt-2", "falcon", "starcoder"].map { pre in
    var tokens = byteChars.map(String.init)
    var types = [GGUFTokenType](repeating: .normal, count: tokens.count)
    var merges: [String] = []
    for w in words + [" bon", " le", " monde"] {
        let chars = byteLevel(w).map(String.init)
        var left = chars[0]
        for c in chars.dropFirst() {
            merges.append("\(left) \(c)")
            left += c
            if !tokens.contains(left) { tokens.append(left); types.append(.normal) }
        }
    }
    for t in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] { tokens.append(t); types.append(.control) }
    do {
        return try BPETokenizer(vocabulary: TokenizerVocabulary(
            tokens: tokens, types: types, merges: merges, bosID: Int32(tokens.count - 3), eosID: Int32(tokens.count - 1),
            preTokenizer: pre))
    } catch { reportFinding("the harness's BPE vocabulary was refused: \(error)") }
}

private func roundTrip(_ tokenizer: any TextTokenizer, _ text: String) {
    for special in [false, true] {
        let ids = tokenizer.tokenize(text, addBOS: special, parseSpecial: special)
        _ = tokenizer.decode(ids, renderSpecial: special)
        var detok = tokenizer.makeStreamingDetokenizer(renderSpecial: special)
        for id in ids { _ = detok.append(id) }
        _ = detok.flush()
    }
}

private func tokenizerJSON(_ data: UnsafePointer<UInt8>, _ size: Int) {
    _ = FileManager.default.createFile(atPath: jsonPath, contents: Data(bytes: data, count: size))
    do {
        let t = try WordPieceTokenizer(tokenizerJSON: URL(fileURLWithPath: jsonPath), maxLength: 64)
        _ = t.encode("Bonjour le monde, ÉTÉ 123 [MASK] !")
        for id in 0..<min(t.tokensByID.count, 4096) { _ = t.token(id) }
    } catch {
        if !"\(error)".contains(jsonPath) { reportFinding("error without the file name: \(error)") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    if size > 0, data[0] == UInt8(ascii: "{") {
        tokenizerJSON(data, size)
        return 0
    }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let ids = wordPiece.encode(text)
    _ = wordPiece.tokenize(text)
    for id in ids { _ = wordPiece.token(id) }
    _ = wordPiece.normalize(text)
    let pieces = unigram.encode(text)
    _ = unigram.encode(text, limit: 5)
    for id in pieces { _ = unigram.piece(id) }
    roundTrip(sentencePiece, text)
    // One BPE per input, chosen by its length, so that each input costs the same.
    roundTrip(bpe[size % bpe.count], text)
    return 0
}
