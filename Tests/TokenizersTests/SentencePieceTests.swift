// SentencePiece (llama.cpp SPM) on tiny vocabularies built in the test.

import Testing
import Tokenizers

enum TinySPM {
    /// <unk> <s> </s>, 256 byte tokens, a few pieces, a control and a user-defined token.
    static func vocabulary(addSpacePrefix: Bool = true) -> TokenizerVocabulary {
        var tokens = ["<unk>", "<s>", "</s>"]
        var scores: [Float] = [0, 0, 0]
        var types: [GGUFTokenType] = [.unknown, .control, .control]
        for b in 0..<256 {
            tokens.append("<0x" + String(b, radix: 16, uppercase: true).leftPadded(2) + ">")
            scores.append(0)
            types.append(.byte)
        }
        let pieces: [(String, Float)] = [
            ("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("w", -2), ("r", -2), ("d", -2),
            ("he", -3), ("ll", -3), ("llo", -4), ("hello", -5), ("▁hello", -6),
            ("or", -3), ("▁w", -3), ("▁wor", -5), ("ld", -4), ("▁world", -6),
            ("é", -2),
        ]
        for (t, s) in pieces { tokens.append(t); scores.append(s); types.append(.normal) }
        tokens.append("<start_of_turn>"); scores.append(0); types.append(.control)
        tokens.append("<end_of_turn>"); scores.append(0); types.append(.control)
        tokens.append("\n\n"); scores.append(0); types.append(.userDefined)
        return TokenizerVocabulary(tokens: tokens, scores: scores, types: types,
                                   bosID: 1, eosID: 2, unknownID: 0,
                                   addBOS: true, addEOS: false, addSpacePrefix: addSpacePrefix)
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}

@Suite("SentencePiece tokenizer (tiny vocabularies)")
struct SentencePieceTests {
    let tok: SentencePieceTokenizer

    init() throws { tok = try SentencePieceTokenizer(vocabulary: TinySPM.vocabulary()) }

    func id(_ s: String) throws -> Int32 { try #require(tok.tokenID(s)) }

    @Test func mergesByBestScore() throws {
        let ids = tok.tokenize("hello world", addBOS: true, parseSpecial: false)
        #expect(ids == [1, try id("▁hello"), try id("▁world")])
        #expect(tok.decode(ids) == "hello world")
    }

    @Test func noSpacePrefixWhenDisabled() throws {
        let t = try SentencePieceTokenizer(vocabulary: TinySPM.vocabulary(addSpacePrefix: false))
        let ids = t.tokenize("hello", addBOS: false, parseSpecial: false)
        #expect(ids == [try #require(t.tokenID("hello"))])
    }

    @Test func byteFallback() throws {
        // 'x' and '€' are not pieces: their UTF-8 bytes become <0xNN> tokens
        let ids = tok.tokenize("x€", addBOS: false, parseSpecial: false)
        let expected = try [id("▁"), id("<0x78>"), id("<0xE2>"), id("<0x82>"), id("<0xAC>")]
        #expect(ids == expected)
        #expect(tok.decode(ids) == "x€")
    }

    @Test func specialTokensParsedWhenAsked() throws {
        let text = "<start_of_turn>hello<end_of_turn>"
        let parsed = tok.tokenize(text, addBOS: true, parseSpecial: true)
        // a raw fragment after a special token gets the space prefix too
        #expect(parsed == [1, try id("<start_of_turn>"), try id("▁hello"), try id("<end_of_turn>")])
        let plain = tok.tokenize(text, addBOS: false, parseSpecial: false)
        #expect(!plain.contains(try id("<start_of_turn>")))
        #expect(tok.decode(plain) == text)
        #expect(tok.eotIDs == [try id("<end_of_turn>")])
    }

    @Test func userDefinedTokensAlwaysMatched() throws {
        let ids = tok.tokenize("hello\n\nhello", addBOS: false, parseSpecial: false)
        #expect(ids == [try id("▁hello"), try id("\n\n"), try id("▁hello")])
    }

    @Test func emptyText() {
        #expect(tok.tokenize("", addBOS: true, parseSpecial: false) == [1])
        #expect(tok.tokenize("", addBOS: false, parseSpecial: true) == [])
    }

    @Test func streamingHoldsBackPartialCharacters() throws {
        // "€" = E2 82 AC, one byte token at a time
        var s = tok.makeStreamingDetokenizer()
        #expect(s.append(try id("<0xE2>")) == "")
        #expect(s.append(try id("<0x82>")) == "")
        #expect(s.pendingByteCount == 2)
        #expect(s.append(try id("<0xAC>")) == "€")
        #expect(s.append(try id("▁hello")) == " hello")
        #expect(s.append(1) == "")  // control token renders as nothing
        // an emoji (4 bytes) split across tokens, then flush of an incomplete character
        #expect(s.append(try id("<0xF0>")) == "")
        #expect(s.append(try id("<0x9F>")) == "")
        #expect(s.append(try id("<0x8D>")) == "")
        #expect(s.append(try id("<0x8E>")) == "🍎")
        #expect(s.append(try id("<0xC3>")) == "")
        #expect(s.flush() == "\u{FFFD}")
    }

    @Test func invalidBytesDoNotStall() throws {
        var s = tok.makeStreamingDetokenizer()
        // a lone continuation byte can never complete: emitted at once as U+FFFD
        #expect(s.append(try id("<0x82>")) == "\u{FFFD}")
        // E0 80 is not a valid start (overlong): not held back
        #expect(s.append(try id("<0xE0>")) == "")
        #expect(s.append(try id("<0x80>")) != "")
        #expect(s.pendingByteCount == 0)
    }

    @Test func loaderErrorsNameTheProblem() {
        let empty = TokenizerVocabulary(tokens: [], source: "tiny.gguf")
        #expect(throws: TokenizersError.self) { try SentencePieceTokenizer(vocabulary: empty) }
        let bad = TokenizerVocabulary(tokens: ["a"], scores: [1, 2], source: "tiny.gguf")
        do {
            _ = try SentencePieceTokenizer(vocabulary: bad)
            Issue.record("expected an error")
        } catch let e as TokenizersError {
            #expect(e.description.contains("tiny.gguf"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
