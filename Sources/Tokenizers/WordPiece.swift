// WordPiece — the BERT tokenizer, driven by a Hugging Face `tokenizer.json`.
//
// Reference: Hugging Face `tokenizers` (normalizers/bert.rs, pre_tokenizers/bert.rs,
// models/wordpiece, processors/template.rs). Pipeline:
//   1. added special tokens ([CLS], [SEP], [MASK] …) found verbatim in the text are kept whole;
//   2. BertNormalizer: clean text (drop NUL, U+FFFD and control/format/private-use
//      characters, whitespace → ' '), spaces around CJK ideographs, strip accents (NFD, drop
//      Mn) when `strip_accents` is true, or is null and `lowercase` is true, then lowercase;
//   3. BertPreTokenizer: split on whitespace, each punctuation character (ASCII punctuation or
//      Unicode P*) is a word of its own;
//   4. WordPiece: greedy longest match, `##` continuation, a word with no match or longer than
//      `max_input_chars_per_word` characters becomes `[UNK]`;
//   5. `[CLS] … [SEP]`, truncating the content so the whole fits in `maxLength`.
// The file's own `padding` and `truncation` entries are ignored.
// Characters are Unicode scalars, as Rust `char`s are.

import Foundation
import Tensors

/// Options of the BertNormalizer.
public struct BertNormalizerOptions: Sendable, Equatable {
    public var cleanText: Bool
    public var handleChineseChars: Bool
    /// `nil` means "same as `lowercase`", as in Hugging Face tokenizers.
    public var stripAccents: Bool?
    public var lowercase: Bool

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }
}

/// A BERT WordPiece tokenizer. Immutable, `Sendable`.
public struct WordPieceTokenizer: Sendable {
    /// Token → id.
    public let vocabulary: [String: Int]
    /// id → token (empty string for ids not in the vocabulary).
    public let tokensByID: [String]
    public let normalizer: BertNormalizerOptions
    public let unknownToken: String
    public let unknownID: Int
    public let continuingSubwordPrefix: String
    public let maxInputCharsPerWord: Int
    /// Ids put before / after the content (`[CLS]` / `[SEP]` for BERT).
    public let prefixIDs: [Int]
    public let suffixIDs: [Int]
    /// Maximum length of an encoding, special tokens included.
    public let maxLength: Int
    /// Special tokens matched verbatim in the raw text, longest first.
    public let specialTokens: [(content: String, id: Int)]

    /// Builds a tokenizer from its parts.
    public init(vocabulary: [String: Int], normalizer: BertNormalizerOptions = BertNormalizerOptions(),
                unknownToken: String = "[UNK]", continuingSubwordPrefix: String = "##",
                maxInputCharsPerWord: Int = 100, prefixTokens: [String] = ["[CLS]"],
                suffixTokens: [String] = ["[SEP]"], specialTokens: [String] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                maxLength: Int = 512) {
        self.vocabulary = vocabulary
        var byID = [String](repeating: "", count: (vocabulary.values.max() ?? -1) + 1)
        for (token, id) in vocabulary where id >= 0 { byID[id] = token }
        self.tokensByID = byID
        self.normalizer = normalizer
        self.unknownToken = unknownToken
        self.unknownID = vocabulary[unknownToken] ?? 0
        self.continuingSubwordPrefix = continuingSubwordPrefix
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.prefixIDs = prefixTokens.compactMap { vocabulary[$0] }
        self.suffixIDs = suffixTokens.compactMap { vocabulary[$0] }
        self.maxLength = max(maxLength, prefixIDs.count + suffixIDs.count)
        self.specialTokens = specialTokens.compactMap { t in vocabulary[t].map { (t, $0) } }
            .sorted { $0.0.count > $1.0.count }
    }

    /// Loads `tokenizer.json` (a `WordPiece` model with a `BertNormalizer`). `maxLength` is the
    /// model's maximum sequence length (all-MiniLM-L6-v2: 256, from `sentence_bert_config.json`).
    /// Throws `TensorsError` naming the file when it is missing, not JSON, or not a WordPiece tokenizer.
    public init(tokenizerJSON url: URL, maxLength: Int) throws {
        let path = url.path
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TensorsError.io(file: path, detail: error.localizedDescription)
        }
        let root: [String: Any]
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TensorsError.malformed(file: path, detail: "top level is not a JSON object")
            }
            root = object
        } catch let error as TensorsError { throw error } catch {
            throw TensorsError.malformed(file: path, detail: "not valid JSON (\(error.localizedDescription))")
        }
        guard let model = root["model"] as? [String: Any] else {
            throw TensorsError.malformed(file: path, detail: "no \"model\" object")
        }
        let modelType = model["type"] as? String ?? "WordPiece"
        guard modelType == "WordPiece" else {
            throw TensorsError.unsupported(file: path, detail: "model type \(modelType), expected WordPiece")
        }
        guard let rawVocab = model["vocab"] as? [String: Any] else {
            throw TensorsError.malformed(file: path, detail: "model.vocab is not an object")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(rawVocab.count)
        for (token, value) in rawVocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw TensorsError.malformed(file: path, detail: "vocab entry '\(token)' has no valid id")
            }
            // Ids index the table of tokens (sized by the largest id): an id near Int.max trapped
            // on the overflow, a large one asked for gigabytes.
            guard id < rawVocab.count else {
                throw TensorsError.malformed(file: path, detail: "vocab entry '\(token)' has id \(id), beyond the \(rawVocab.count) entries")
            }
            vocab[token] = id
        }
        let unk = model["unk_token"] as? String ?? "[UNK]"
        guard vocab[unk] != nil else {
            throw TensorsError.malformed(file: path, detail: "unknown token '\(unk)' is not in the vocabulary")
        }
        let prefix = model["continuing_subword_prefix"] as? String ?? "##"
        let maxChars = (model["max_input_chars_per_word"] as? NSNumber)?.intValue ?? 100

        var options = BertNormalizerOptions()
        if let norm = root["normalizer"] as? [String: Any] {
            let type = norm["type"] as? String ?? ""
            guard type == "BertNormalizer" else {
                throw TensorsError.unsupported(file: path, detail: "normalizer type '\(type)', expected BertNormalizer")
            }
            options.cleanText = (norm["clean_text"] as? Bool) ?? true
            options.handleChineseChars = (norm["handle_chinese_chars"] as? Bool) ?? true
            options.stripAccents = norm["strip_accents"] as? Bool
            options.lowercase = (norm["lowercase"] as? Bool) ?? true
        } else if !(root["normalizer"] is NSNull) && root["normalizer"] != nil {
            throw TensorsError.malformed(file: path, detail: "\"normalizer\" is not an object")
        }
        if let pre = root["pre_tokenizer"] as? [String: Any], let type = pre["type"] as? String, type != "BertPreTokenizer" {
            throw TensorsError.unsupported(file: path, detail: "pre_tokenizer type '\(type)', expected BertPreTokenizer")
        }

        var prefixTokens = ["[CLS]"], suffixTokens = ["[SEP]"]
        if let post = root["post_processor"] as? [String: Any] {
            switch post["type"] as? String {
            case "TemplateProcessing":
                guard let single = post["single"] as? [[String: Any]] else {
                    throw TensorsError.malformed(file: path, detail: "post_processor.single is not a list")
                }
                prefixTokens = []; suffixTokens = []
                var seenSequence = false
                for piece in single {
                    if let special = piece["SpecialToken"] as? [String: Any], let id = special["id"] as? String {
                        if seenSequence { suffixTokens.append(id) } else { prefixTokens.append(id) }
                    } else if piece["Sequence"] != nil {
                        seenSequence = true
                    }
                }
            case "BertProcessing":
                if let cls = (post["cls"] as? [Any])?.first as? String { prefixTokens = [cls] }
                if let sep = (post["sep"] as? [Any])?.first as? String { suffixTokens = [sep] }
            case let other:
                throw TensorsError.unsupported(file: path, detail: "post_processor type '\(other ?? "?")'")
            }
        }
        for t in prefixTokens + suffixTokens where vocab[t] == nil {
            throw TensorsError.malformed(file: path, detail: "special token '\(t)' is not in the vocabulary")
        }
        var specials: [String] = []
        for case let added as [String: Any] in (root["added_tokens"] as? [Any]) ?? [] {
            if let content = added["content"] as? String, (added["special"] as? Bool) ?? false, vocab[content] != nil {
                specials.append(content)
            }
        }
        self.init(vocabulary: vocab, normalizer: options, unknownToken: unk, continuingSubwordPrefix: prefix,
                  maxInputCharsPerWord: maxChars, prefixTokens: prefixTokens, suffixTokens: suffixTokens,
                  specialTokens: specials, maxLength: maxLength)
    }

    // MARK: - Encoding

    /// Ids of `text`: prefix (`[CLS]`), content truncated to fit `maxLength`, suffix (`[SEP]`).
    public func encode(_ text: String) -> [Int] {
        let budget = maxLength - prefixIDs.count - suffixIDs.count
        var ids = prefixIDs
        ids.reserveCapacity(min(maxLength, text.utf8.count + 2))
        var content = 0
        forEachContentID(text) { id in
            guard content < budget else { return false }
            ids.append(id)
            content += 1
            return true
        }
        ids.append(contentsOf: suffixIDs)
        return ids
    }

    /// Content tokens of `text` (no `[CLS]`/`[SEP]`, no truncation).
    public func tokenize(_ text: String) -> [String] {
        var out: [String] = []
        forEachContentID(text) { id in out.append(token(id)); return true }
        return out
    }

    /// The token of `id` (empty when out of range).
    public func token(_ id: Int) -> String {
        id >= 0 && id < tokensByID.count ? tokensByID[id] : ""
    }

    /// Calls `body` for each content id in order until it returns false.
    private func forEachContentID(_ text: String, _ body: (Int) -> Bool) {
        var goOn = true
        for segment in splitOnSpecialTokens(text) {
            guard goOn else { return }
            switch segment {
            case let .special(id):
                goOn = body(id)
            case let .text(s):
                let normalized = normalize(s)
                forEachWord(normalized) { word in
                    wordPiece(word) { id in
                        if goOn { goOn = body(id) }
                    }
                    return goOn
                }
            }
        }
    }

    private enum Segment { case text(Substring), special(Int) }

    private func splitOnSpecialTokens(_ text: String) -> [Segment] {
        guard !specialTokens.isEmpty, text.contains("[") || specialTokens.contains(where: { !$0.content.hasPrefix("[") }) else {
            return [.text(text[...])]
        }
        var segments: [Segment] = []
        var rest = text[...]
        while !rest.isEmpty {
            var best: (range: Range<Substring.Index>, id: Int)?
            for (content, id) in specialTokens {
                if let r = rest.range(of: content), best == nil || r.lowerBound < best!.range.lowerBound {
                    best = (r, id)
                }
            }
            guard let found = best else { segments.append(.text(rest)); break }
            if found.range.lowerBound > rest.startIndex { segments.append(.text(rest[rest.startIndex..<found.range.lowerBound])) }
            segments.append(.special(found.id))
            rest = rest[found.range.upperBound...]
        }
        return segments
    }

    // MARK: - Normalizer

    /// The BertNormalizer output of `text`, as Unicode scalars.
    public func normalize<S: StringProtocol>(_ text: S) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        for c in text.unicodeScalars {
            if normalizer.cleanText {
                if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
                if Self.isWhitespace(c) { scalars.append(" "); continue }
            }
            if normalizer.handleChineseChars && Self.isChineseChar(c) {
                scalars.append(" "); scalars.append(c); scalars.append(" ")
            } else {
                scalars.append(c)
            }
        }
        if normalizer.stripAccents ?? normalizer.lowercase, scalars.contains(where: { $0.value >= 0x80 }) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars)
            let decomposed = String(view).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if normalizer.lowercase {
            var lowered: [Unicode.Scalar] = []
            lowered.reserveCapacity(scalars.count)
            for c in scalars {
                if c.value < 0x80 {
                    lowered.append(c.value >= 65 && c.value <= 90 ? Unicode.Scalar(c.value + 32)! : c)
                } else {
                    lowered.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
                }
            }
            scalars = lowered
        }
        return scalars
    }

    /// Control, format and private-use characters (tab, newline and carriage return count as
    /// whitespace). Unassigned code points are kept, as Hugging Face tokenizers keeps them
    /// (checked on U+0378, U+2FFF, U+E0080 …); they then make their word `[UNK]`.
    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c.properties.isWhitespace
    }

    static func isChineseChar(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
             0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        if v < 0x80 { return false }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    // MARK: - Pre-tokenizer and model

    /// Splits on whitespace and isolates punctuation; calls `body` per word until it returns false.
    private func forEachWord(_ scalars: [Unicode.Scalar], _ body: (ArraySlice<Unicode.Scalar>) -> Bool) {
        var start = 0
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if Self.isWhitespace(c) {
                if start < i, !body(scalars[start..<i]) { return }
                start = i + 1
            } else if Self.isPunctuation(c) {
                if start < i, !body(scalars[start..<i]) { return }
                if !body(scalars[i...i]) { return }
                start = i + 1
            }
            i += 1
        }
        if start < scalars.count { _ = body(scalars[start...]) }
    }

    /// Greedy longest-match-first WordPiece of one word.
    private func wordPiece(_ word: ArraySlice<Unicode.Scalar>, _ emit: (Int) -> Void) {
        if word.count > maxInputCharsPerWord { emit(unknownID); return }
        var pieces: [Int] = []
        var start = word.startIndex
        while start < word.endIndex {
            var end = word.endIndex
            var found: Int?
            while start < end {
                var view = String.UnicodeScalarView()
                if start > word.startIndex { view.append(contentsOf: continuingSubwordPrefix.unicodeScalars) }
                view.append(contentsOf: word[start..<end])
                if let id = vocabulary[String(view)] { found = id; break }
                end -= 1
            }
            guard let id = found else { emit(unknownID); return }
            pieces.append(id)
            start = end
        }
        for id in pieces { emit(id) }
    }
}
