// Byte-level BPE on tiny vocabularies built in the test, and the pre-tokenizers.

import Testing
import Tokenizers

enum TinyBPE {
    /// GPT-2's byte -> printable character table.
    static let byteChars: [String] = {
        var table = [String](repeating: "", count: 256)
        var n = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = String(Character(Unicode.Scalar(UInt32(b))!))
            } else {
                table[b] = String(Character(Unicode.Scalar(UInt32(256 + n))!))
                n += 1
            }
        }
        return table
    }()

    static func vocabulary(pre: String = "gpt2") -> TokenizerVocabulary {
        var tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        var types: [GGUFTokenType] = [.control, .control, .control]
        tokens += byteChars
        types += Array(repeating: .normal, count: 256)
        let merges = ["l l", "h e", "he ll", "hell o", "Ġ w", "o r", "Ġw or", "l d", "Ġwor ld", "Ã ©"]
        for m in merges {
            tokens.append(m.replacingOccurrences(of: " ", with: ""))
            types.append(.normal)
        }
        return TokenizerVocabulary(tokens: tokens, types: types, merges: merges,
                                   bosID: 1, eosID: 2, addBOS: false, preTokenizer: pre)
    }
}

@Suite("Byte-level BPE tokenizer (tiny vocabularies)")
struct BPETests {
    let tok: BPETokenizer

    init() throws { tok = try BPETokenizer(vocabulary: TinyBPE.vocabulary()) }

    func id(_ s: String) throws -> Int32 { try #require(tok.tokenID(s)) }

    @Test func mergesByRank() throws {
        let ids = tok.tokenize("hello world", addBOS: true, parseSpecial: false)
        #expect(ids == [try id("hello"), try id("Ġworld")])
        #expect(tok.decode(ids) == "hello world")
        // "hel": "l l" cannot apply, "h e" does, leaving "he" + "l"
        #expect(tok.tokenize("hel", addBOS: false, parseSpecial: false) == [try id("he"), try id("l")])
    }

    @Test func bytesMapToPrintableCharacters() throws {
        // é = C3 A9 -> "Ã" "©" -> merged "Ã©"; ü = C3 BC -> "Ã" "¼" (no merge)
        #expect(tok.tokenize("é", addBOS: false, parseSpecial: false) == [try id("Ã©")])
        #expect(tok.tokenize("ü", addBOS: false, parseSpecial: false) == [try id("Ã"), try id("¼")])
        #expect(tok.tokenize("a\nb", addBOS: false, parseSpecial: false) == [try id("a"), try id("Ċ"), try id("b")])
        #expect(tok.decode(tok.tokenize("ü\t€ x", addBOS: false, parseSpecial: false)) == "ü\t€ x")
    }

    @Test func specialTokens() throws {
        let text = "<|im_start|>hello<|im_end|>"
        #expect(tok.tokenize(text, addBOS: false, parseSpecial: true) == [1, try id("hello"), 2])
        let plain = tok.tokenize(text, addBOS: false, parseSpecial: false)
        #expect(!plain.contains(1) && !plain.contains(2))
        #expect(tok.decode(plain) == text)
        #expect(tok.eotIDs == [0, 2])
        #expect(tok.decode([1, try id("hello"), 2]) == "hello")
        #expect(tok.decode([1, try id("hello"), 2], renderSpecial: true) == text)
    }

    @Test func streamingAcrossByteTokens() throws {
        // "€" = E2 82 AC as three byte-level tokens
        let ids = tok.tokenize("€!", addBOS: false, parseSpecial: false)
        #expect(ids.count == 4)
        var s = tok.makeStreamingDetokenizer()
        #expect(s.append(ids[0]) == "")
        #expect(s.append(ids[1]) == "")
        #expect(s.append(ids[2]) == "€")
        #expect(s.append(ids[3]) == "!")
    }

    @Test func unknownPreTokenizerIsAnError() {
        #expect(throws: TokenizersError.self) { try BPETokenizer(vocabulary: TinyBPE.vocabulary(pre: "nonesuch")) }
    }
}

@Suite("BPE pre-tokenizers (llama.cpp splits)")
struct BPEPreTokenizerTests {
    static let text = "Hello world's 12345 !!\n\n  x"

    func words(_ pre: String, _ text: String = Self.text) throws -> [String] {
        try #require(BPEPreTokenizer(name: pre)).words(text)
    }

    @Test func gpt2() throws {
        #expect(try words("gpt-2") == ["Hello", " world", "'s", " 12345", " !!", "\n\n ", " x"])
    }

    @Test func smollm() throws {
        #expect(try words("smollm") == ["Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " !!", "\n\n ", " x"])
    }

    @Test func defaultBPE() throws {
        #expect(try words("default") == ["Hello", " world", "'", "s", " ", "123", "45", " ", "!!", "\n\n ", " x"])
    }

    @Test func llama3() throws {
        #expect(try words("llama-bpe") == ["Hello", " world", "'s", " ", "123", "45", " !!\n\n", " ", " x"])
        #expect(try words("llama-bpe", "I'M don'T") == ["I", "'M", " don", "'T"])
    }

    @Test func qwen2() throws {
        #expect(try words("qwen2") == ["Hello", " world", "'s", " ", "1", "2", "3", "4", "5", " !!\n\n", " ", " x"])
    }

    @Test func unicodeCategories() throws {
        // letters with accents, CJK letters, other numbers (½), symbols (emoji), NBSP as space
        #expect(try words("gpt-2", "crème 苹果 ½ 🍎🥧\u{A0}x") == ["crème", " 苹果", " ½", " 🍎🥧", "\u{A0}", "x"])
    }
}
