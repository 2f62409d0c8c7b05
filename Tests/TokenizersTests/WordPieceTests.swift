import Foundation
import Testing
import Tensors
import Tokenizers
import TestSupport

private let tinyVocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", ",", ".", "—", "$",
                         "un", "##aff", "##able", "cafe", "café", "你", "好", "°c", "a", "##b", "d", "'", "ecole"]

private func tinyTokenizer(_ options: BertNormalizerOptions = BertNormalizerOptions(), maxLength: Int = 64,
                           maxChars: Int = 100) -> WordPieceTokenizer {
    WordPieceTokenizer(vocabulary: Dictionary(uniqueKeysWithValues: tinyVocab.enumerated().map { ($1, $0) }),
                       normalizer: options, maxInputCharsPerWord: maxChars, maxLength: maxLength)
}

private func tokens(_ t: WordPieceTokenizer, _ text: String) -> [String] {
    t.encode(text).map(t.token)
}

private func writeTokenizerJSON(_ url: URL, normalizer: [String: Any], model: [String: Any]? = nil) throws {
    let root: [String: Any] = [
        "version": "1.0",
        "truncation": ["max_length": 3, "strategy": "LongestFirst", "stride": 0],
        "padding": ["strategy": ["Fixed": 128], "pad_id": 0, "pad_token": "[PAD]"],
        "added_tokens": [["id": 4, "content": "[MASK]", "special": true]],
        "normalizer": normalizer,
        "pre_tokenizer": ["type": "BertPreTokenizer"],
        "post_processor": [
            "type": "TemplateProcessing",
            "single": [["SpecialToken": ["id": "[CLS]", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                       ["SpecialToken": ["id": "[SEP]", "type_id": 0]]],
        ],
        "model": model ?? [
            "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": Dictionary(uniqueKeysWithValues: tinyVocab.enumerated().map { ($1, $0) }),
        ],
    ]
    try JSONSerialization.data(withJSONObject: root).write(to: url)
}

private func temporaryURL(_ name: String) -> URL {
    let dir = TestDirectory.make("wordpiece")
    return dir.appendingPathComponent(name)
}

@Suite("WordPiece tokenizer")
struct WordPieceTests {
    @Test("[CLS] … [SEP], lowercase, punctuation split")
    func basics() {
        let t = tinyTokenizer()
        #expect(tokens(t, "Hello, World!") == ["[CLS]", "hello", ",", "world", "!", "[SEP]"])
        #expect(tokens(t, "") == ["[CLS]", "[SEP]"])
        #expect(tokens(t, "   \t\n ") == ["[CLS]", "[SEP]"])
    }

    @Test("## continuation, greedy longest match, [UNK] for a word that does not fully match")
    func continuation() {
        let t = tinyTokenizer()
        #expect(tokens(t, "unaffable") == ["[CLS]", "un", "##aff", "##able", "[SEP]"])
        #expect(tokens(t, "abbb") == ["[CLS]", "a", "##b", "##b", "##b", "[SEP]"])
        #expect(tokens(t, "unx hello") == ["[CLS]", "[UNK]", "hello", "[SEP]"])
        #expect(tokens(t, "zzz") == ["[CLS]", "[UNK]", "[SEP]"])
    }

    @Test("max_input_chars_per_word turns long words into [UNK]")
    func longWords() {
        let t = tinyTokenizer(maxChars: 4)
        #expect(tokens(t, "abbb abbbb") == ["[CLS]", "a", "##b", "##b", "##b", "[UNK]", "[SEP]"])
    }

    @Test("accents: stripped when lowercase and strip_accents is null, kept when configured")
    func accents() {
        #expect(tokens(tinyTokenizer(), "Café ÉCOLE") == ["[CLS]", "cafe", "ecole", "[SEP]"])
        let keep = tinyTokenizer(BertNormalizerOptions(stripAccents: false, lowercase: true))
        #expect(tokens(keep, "Café") == ["[CLS]", "café", "[SEP]"])
        let noLower = tinyTokenizer(BertNormalizerOptions(stripAccents: nil, lowercase: false))
        #expect(tokens(noLower, "Hello café") == ["[CLS]", "[UNK]", "café", "[SEP]"])
        let stripOnly = tinyTokenizer(BertNormalizerOptions(stripAccents: true, lowercase: false))
        #expect(tokens(stripOnly, "café") == ["[CLS]", "cafe", "[SEP]"])
        // Decomposed input (e + combining acute) normalises the same way.
        #expect(tokens(tinyTokenizer(), "Cafe\u{301}") == ["[CLS]", "cafe", "[SEP]"])
    }

    @Test("clean text: control and format characters removed, any whitespace splits")
    func cleanText() {
        let t = tinyTokenizer()
        #expect(tokens(t, "hel\u{0}lo\u{200B} wor\u{FFFD}ld") == ["[CLS]", "hello", "world", "[SEP]"])
        #expect(tokens(t, "hello\u{00A0}world\u{3000}hello") == ["[CLS]", "hello", "world", "hello", "[SEP]"])
        #expect(tokens(t, "hello\u{7}world") == ["[CLS]", "[UNK]", "[SEP]"]) // "helloworld"
    }

    @Test("CJK ideographs are words of their own; Unicode punctuation splits, symbols do not")
    func chineseAndPunctuation() {
        let t = tinyTokenizer()
        #expect(tokens(t, "你好hello") == ["[CLS]", "你", "好", "hello", "[SEP]"])
        #expect(tokens(t, "hello—world") == ["[CLS]", "hello", "—", "world", "[SEP]"])
        #expect(tokens(t, "$hello") == ["[CLS]", "$", "hello", "[SEP]"])
        #expect(tokens(t, "°C") == ["[CLS]", "°c", "[SEP]"])
        #expect(tokens(t, "d'a") == ["[CLS]", "d", "'", "a", "[SEP]"])
        let off = tinyTokenizer(BertNormalizerOptions(handleChineseChars: false))
        #expect(tokens(off, "你好") == ["[CLS]", "[UNK]", "[SEP]"])
    }

    @Test("truncation keeps [SEP] and fits maxLength")
    func truncation() {
        let t = tinyTokenizer(maxLength: 5)
        #expect(tokens(t, "hello world hello world hello") == ["[CLS]", "hello", "world", "hello", "[SEP]"])
        #expect(tokens(t, "unaffable unaffable") == ["[CLS]", "un", "##aff", "##able", "[SEP]"])
        #expect(tokens(t, "hello") == ["[CLS]", "hello", "[SEP]"])
    }

    @Test("special tokens written in the text are kept whole")
    func specialTokensInText() {
        let t = tinyTokenizer()
        #expect(tokens(t, "hello [MASK] world[SEP]") == ["[CLS]", "hello", "[MASK]", "world", "[SEP]", "[SEP]"])
        #expect(tokens(t, "[mask]") == ["[CLS]", "[UNK]", "[UNK]", "[UNK]", "[SEP]"]) // "[", "mask", "]"
    }

    @Test("loads tokenizer.json: normalizer options, post-processor; ignores padding and truncation")
    func loadsJSON() throws {
        let url = temporaryURL("tokenizer.json")
        try writeTokenizerJSON(url, normalizer: ["type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                                                 "strip_accents": false, "lowercase": true])
        let t = try WordPieceTokenizer(tokenizerJSON: url, maxLength: 16)
        #expect(t.normalizer == BertNormalizerOptions(stripAccents: false, lowercase: true))
        #expect(t.prefixIDs == [2])
        #expect(t.suffixIDs == [3])
        #expect(t.encode("Café hello world") == [2, 16, 5, 6, 3])
        #expect(t.encode("hello [MASK]") == [2, 5, 4, 3])
        #expect(t.tokenize("unaffable!") == ["un", "##aff", "##able", "!"])
    }

    @Test("a broken tokenizer.json is an error naming the file")
    func brokenJSON() throws {
        let url = temporaryURL("tokenizer.json")
        try Data("{\"model\": ".utf8).write(to: url)
        #expect(throws: TensorsError.self) { try WordPieceTokenizer(tokenizerJSON: url, maxLength: 8) }
        do { _ = try WordPieceTokenizer(tokenizerJSON: url, maxLength: 8) } catch let e as TensorsError {
            #expect(e.description.hasPrefix(url.path))
            #expect(e.description.contains("malformed"))
        }
        try writeTokenizerJSON(url, normalizer: ["type": "BertNormalizer"], model: ["type": "BPE", "vocab": [:]])
        do {
            _ = try WordPieceTokenizer(tokenizerJSON: url, maxLength: 8)
            Issue.record("expected an error")
        } catch let e as TensorsError {
            #expect(e.description.contains("BPE"))
        }
        let missing = temporaryURL("absent.json")
        #expect(throws: TensorsError.self) { try WordPieceTokenizer(tokenizerJSON: missing, maxLength: 8) }
    }

    /// Found while fuzzing (reproduced with Fuzz/Tokenizers, not reached by its 10-minute run): a
    /// vocab id of Int.max trapped on `max + 1` when the id table was sized, an id of 10^11 asked
    /// for 800 GB. Ids past the entry count are now refused, naming the file.
    @Test("a vocab id beyond the entry count is an error naming the file", arguments: ["9223372036854775807", "100000000000", "4"])
    func vocabIDBeyondTheEntries(id: String) throws {
        let url = temporaryURL("tokenizer.json")
        try Data("""
            {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "a": \(id)}}}
            """.utf8).write(to: url)
        #expect(throws: TensorsError.malformed(file: url.path, detail: "vocab entry 'a' has id \(id), beyond the 4 entries")) {
            try WordPieceTokenizer(tokenizerJSON: url, maxLength: 8)
        }
    }
}
