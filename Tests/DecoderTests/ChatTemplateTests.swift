import Foundation
import Testing
import Tensors
import Tokenizers
import Decoder

/// Rendered strings compared with what the families' Jinja templates render (jinja2 3.1, strings
/// content, `add_generation_prompt=True`, `bos_token` rendered empty since the tokenizer adds BOS):
/// ChatML from SmolLM2's GGUF, Gemma 3 / Llama 3 / Mistral v0.2 from their tokenizer_config.json.
@Suite("Chat templates")
struct ChatTemplateTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let smol = root.appendingPathComponent("models/decoder/SmolLM2-135M-Instruct.Q4_1.gguf").path
    static let gemma = root.appendingPathComponent("models/decoder/gemma-3-270m-q4_k_m.gguf").path

    static let single: [ChatTurn] = [.user("Bonjour !")]
    static let withSystem: [ChatTurn] = [.system("Réponds en français."), .user("  Quelle tarte ?\n")]
    static let multi: [ChatTurn] = [.system("Sys"), .user("Q1"), .assistant("R1"), .user("Q2")]

    @Test func chatMLAsSmolLM2() throws {
        let t = try #require(ChatTemplate.from(try GGUFFile(path: Self.smol)))
        #expect(t.family == .chatML)
        #expect(t.defaultSystem == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        #expect(t.render(Self.single) == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nBonjour !<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.render(Self.withSystem) == "<|im_start|>system\nRéponds en français.<|im_end|>\n<|im_start|>user\n  Quelle tarte ?\n<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.render(Self.multi) == "<|im_start|>system\nSys<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\nR1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n")
        #expect(t.render(Self.single, addGenerationPrompt: false).hasSuffix("Bonjour !<|im_end|>\n"))
    }

    @Test func chatMLTokensAndStops() throws {
        let file = try GGUFFile(path: Self.smol)
        let tok = try GGUFTokenizerLoader.load(file)
        let t = try #require(ChatTemplate.from(file))
        let ids = t.encode(Self.withSystem, tokenizer: tok)
        // Special tokens parsed: <|im_start|> = 1, <|im_end|> = 2; SmolLM2 adds no BOS.
        #expect(ids.first == 1)
        #expect(ids.filter { $0 == 1 }.count == 3 && ids.filter { $0 == 2 }.count == 2)
        #expect(tok.decode(ids, renderSpecial: true) == t.render(Self.withSystem))
        #expect(t.stopTokenIDs(tok).contains(2))
    }

    @Test func gemma() throws {
        let t = try #require(ChatTemplate.detect("{{ bos_token }}{{ '<start_of_turn>' + role + '\\n' }}"))
        #expect(t.family == .gemma)
        #expect(t.render(Self.single) == "<start_of_turn>user\nBonjour !<end_of_turn>\n<start_of_turn>model\n")
        // The system message is folded into the first user turn.
        #expect(t.render(Self.withSystem) == "<start_of_turn>user\nRéponds en français.\n\nQuelle tarte ?<end_of_turn>\n<start_of_turn>model\n")
        #expect(t.render(Self.multi) == "<start_of_turn>user\nSys\n\nQ1<end_of_turn>\n<start_of_turn>model\nR1<end_of_turn>\n<start_of_turn>user\nQ2<end_of_turn>\n<start_of_turn>model\n")
    }

    @Test func gemmaFileHasNoTemplateButTurnTokens() throws {
        let file = try GGUFFile(path: Self.gemma)
        // The 270M file is the base (pretrained) model: no chat template in its metadata.
        #expect(ChatTemplate.from(file) == nil)
        let tok = try GGUFTokenizerLoader.load(file)
        let t = ChatTemplate(family: .gemma)
        let ids = t.encode(Self.single, tokenizer: tok)
        #expect(ids.first == 2)  // <bos>
        #expect(ids[1] == tok.tokenID("<start_of_turn>"))
        #expect(t.stopTokenIDs(tok).contains(try #require(tok.tokenID("<end_of_turn>")).asInt))
    }

    @Test func llama3() throws {
        let t = try #require(ChatTemplate.detect("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' %}"))
        #expect(t.family == .llama3)
        #expect(t.render(Self.single) == "<|start_header_id|>user<|end_header_id|>\n\nBonjour !<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(t.render(Self.withSystem) == "<|start_header_id|>system<|end_header_id|>\n\nRéponds en français.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQuelle tarte ?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(t.render(Self.multi) == "<|start_header_id|>system<|end_header_id|>\n\nSys<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ1<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nR1<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nQ2<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(t.endOfTurnStrings == ["<|eot_id|>"])
    }

    @Test func mistral() throws {
        let t = try #require(ChatTemplate.detect("{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"))
        #expect(t.family == .mistral && t.mistralOpen == "[INST] " && t.mistralClose == " [/INST]")
        #expect(t.render(Self.single) == "[INST] Bonjour ! [/INST]")
        #expect(t.render([.user("Q1"), .assistant("R1"), .user("Q2")]) == "[INST] Q1 [/INST]R1</s>[INST] Q2 [/INST]")
        // No system role in the template: mistral-common puts it before the first user message.
        #expect(t.render(Self.multi) == "[INST] Sys\n\nQ1 [/INST]R1</s>[INST] Q2 [/INST]")
        let tekken = try #require(ChatTemplate.detect("{{ '[INST]' + message['content'] + '[/INST]' }}"))
        #expect(tekken.render(Self.single) == "[INST]Bonjour ![/INST]")
        // v0.3: `{{- "[INST] " + message["content"] + "[/INST]" }}`.
        let v3 = try #require(ChatTemplate.detect(#"{{- "[INST] " + message["content"] + "[/INST]" }}"#))
        #expect(v3.render(Self.single) == "[INST] Bonjour ![/INST]")
    }

    @Test func unknownTemplate() {
        #expect(ChatTemplate.detect("{{ messages }}") == nil)
    }
}

@Suite("Stop strings and context budget")
struct BudgetTests {
    @Test func stopStringsHoldBackPrefixes() {
        var m = StopStringMatcher(["\nQuestion", "\n\n"])
        #expect(m.feed("Une tarte") == "Une tarte")
        #expect(m.feed(" [1].\n") == " [1].")
        #expect(m.feed("Quest") == "")
        #expect(m.feed("ionnaire") == "")
        #expect(m.stopped)
        var n = StopStringMatcher(["\nQuestion"])
        #expect(n.feed("a\nQu") == "a")
        #expect(n.feed("and ?") == "\nQuand ?")
        #expect(!n.stopped && n.flush() == "")
        var o = StopStringMatcher(["<end>"])
        #expect(o.feed("fin <en") == "fin ")
        #expect(o.flush() == "<en")
    }

    @Test func sentenceEnds() {
        let s = "Un. Deux ! Trois ?\nQuatre"
        let cuts = ContextBudget.sentenceEnds(s).map { String(s[..<$0]) }
        #expect(cuts == ["Un.", "Un. Deux !", "Un. Deux ! Trois ?"])
    }

    /// One token per word; the prompt is a 3-word header then the passages.
    static func render(_ ps: [String]) -> [Int32] {
        let words = (["Q", "question", "?"] + ps.flatMap { $0.split(separator: " ").map(String.init) })
        return words.indices.map { Int32($0) }
    }

    @Test func everythingFits() throws {
        let b = ContextBudget(contextLength: 100, maxAnswerTokens: 20)
        let f = try b.fit(passages: ["a b c.", "d e."], render: Self.render)
        #expect(f.passages == ["a b c.", "d e."] && f.dropped == 0 && !f.shortened && f.tokens.count == 8)
    }

    @Test func dropsLowestRankedThenShortens() throws {
        let p1 = "Un deux trois quatre cinq."
        let p2 = "Six sept. Huit neuf dix. Onze douze treize quatorze."
        let p3 = "Quinze seize dix-sept."
        // Tiny context: 24 tokens, 8 for the answer → 16 for the prompt: header 3 + p1 5 = 8, + 8 left.
        let b = ContextBudget(contextLength: 24, maxAnswerTokens: 8)
        let f = try b.fit(passages: [p1, p2, p3], render: Self.render)
        #expect(f.tokens.count <= b.promptLimit)
        #expect(f.passages == [p1, "Six sept. Huit neuf dix. […]"])
        #expect(f.dropped == 1 && f.shortened)
        // Smaller: the first passage itself is shortened.
        let g = try ContextBudget(contextLength: 12, maxAnswerTokens: 4).fit(passages: [p2, p3], render: Self.render)
        #expect(g.passages == ["Six sept. […]"] && g.dropped == 1 && g.tokens.count <= 8)
        // No sentence fits: the passage is dropped.
        let h = try ContextBudget(contextLength: 8, maxAnswerTokens: 4).fit(passages: [p1], render: Self.render)
        #expect(h.passages.isEmpty && h.dropped == 1 && h.tokens.count == 3)
    }

    @Test func neverOverflows() throws {
        #expect(throws: DecoderError.self) {
            try ContextBudget(contextLength: 5, maxAnswerTokens: 3).fit(passages: ["a."], render: Self.render)
        }
        for ctx in 4...40 {
            let b = ContextBudget(contextLength: ctx, maxAnswerTokens: 1)
            if let f = try? b.fit(passages: ["Un deux. Trois quatre.", "Cinq six sept. Huit.", "Neuf."], render: Self.render) {
                #expect(f.tokens.count <= b.promptLimit)
            }
        }
    }
}

extension Int32 {
    var asInt: Int { Int(self) }
}
