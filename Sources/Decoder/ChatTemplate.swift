// Chat formatting from a GGUF file's `tokenizer.chat_template`, by recognised family (no Jinja
// interpreter): the template is only inspected to tell which family it is, then turns are rendered
// by hand exactly as the family's reference templates render them (HF tokenizer_config.json):
//   ChatML    `<|im_start|>role\ncontent<|im_end|>\n` … `<|im_start|>assistant\n` (SmolLM2, Qwen)
//   Gemma     `<start_of_turn>user\n[system\n\n]content<end_of_turn>\n` … `<start_of_turn>model\n`
//   Llama 3   `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` … assistant header
//   Mistral   `[INST] content [/INST]answer</s>` (v0.1/v0.2; v0.3 and Tekken spacing detected)
// BOS is never part of the rendered text: tokenize with `addBOS: true` and the tokenizer applies the
// model's own rule (the reference templates start with `{{ bos_token }}` exactly when it adds one).
import Foundation
import Tensors
import Tokenizers

/// One chat turn for a local model.
public struct ChatTurn: Sendable, Equatable {
    public enum Role: String, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) { self.role = role; self.content = content }
    public static func system(_ s: String) -> ChatTurn { ChatTurn(role: .system, content: s) }
    public static func user(_ s: String) -> ChatTurn { ChatTurn(role: .user, content: s) }
    public static func assistant(_ s: String) -> ChatTurn { ChatTurn(role: .assistant, content: s) }
}

/// The chat formats this engine renders.
public enum ChatFamily: String, Sendable, CaseIterable {
    case chatML = "chatml"
    case gemma
    case llama3
    case mistral
}

/// A chat format: renders turns to the text a model was trained on, and names its end-of-turn tokens.
public struct ChatTemplate: Sendable, Equatable {
    public var family: ChatFamily
    /// ChatML: the system turn the template inserts when the conversation has none (SmolLM2's
    /// "You are a helpful AI assistant named SmolLM…"), nil when it inserts none.
    public var defaultSystem: String?
    /// Mistral: how a user message is wrapped: `[INST] ` … ` [/INST]` (v0.1/v0.2, the default),
    /// `[INST] ` … `[/INST]` (v0.3), `[INST]` … `[/INST]` (Tekken).
    public var mistralOpen: String
    public var mistralClose: String

    public init(family: ChatFamily, defaultSystem: String? = nil, mistralOpen: String = "[INST] ",
                mistralClose: String = " [/INST]") {
        self.family = family
        self.defaultSystem = defaultSystem
        self.mistralOpen = mistralOpen
        self.mistralClose = mistralClose
    }

    /// The family of a Jinja chat template, nil when none is recognised.
    public static func detect(_ template: String) -> ChatTemplate? {
        if template.contains("<|im_start|>") {
            return ChatTemplate(family: .chatML, defaultSystem: chatMLDefaultSystem(template))
        }
        if template.contains("<start_of_turn>") { return ChatTemplate(family: .gemma) }
        if template.contains("<|start_header_id|>") { return ChatTemplate(family: .llama3) }
        if template.contains("[INST]") {
            return ChatTemplate(family: .mistral, mistralOpen: template.contains("[INST] ") ? "[INST] " : "[INST]",
                                mistralClose: template.contains(" [/INST]") ? " [/INST]" : "[/INST]")
        }
        return nil
    }

    /// The chat format of a GGUF file (`tokenizer.chat_template`), nil when it has none or an
    /// unrecognised one (base models: use a completion-style prompt).
    public static func from(_ file: GGUFFile) -> ChatTemplate? {
        guard let t = file.metadata["tokenizer.chat_template"]?.string else { return nil }
        return detect(t)
    }

    /// The raw Jinja template of `file`, if any.
    public static func rawTemplate(_ file: GGUFFile) -> String? { file.metadata["tokenizer.chat_template"]?.string }

    /// `'<|im_start|>system\n…<|im_end|>` written literally in a ChatML template (the default system turn).
    static func chatMLDefaultSystem(_ t: String) -> String? {
        // The template's newline may be a real one or a `\n` escape inside the Jinja string.
        for newline in ["\n", "\\n"] {
            let marker = "<|im_start|>system" + newline
            var searchFrom = t.startIndex
            while let r = t.range(of: marker, range: searchFrom..<t.endIndex) {
                searchFrom = r.upperBound
                // Must be a literal string: the text up to <|im_end|> has no quote or Jinja syntax.
                guard let end = t.range(of: "<|im_end|>", range: r.upperBound..<t.endIndex) else { break }
                let body = String(t[r.upperBound..<end.lowerBound])
                if body.isEmpty || body.contains("'") || body.contains("\"") || body.contains("{") || body.contains("+") { continue }
                return body.replacingOccurrences(of: "\\n", with: "\n")
            }
        }
        return nil
    }

    /// Strings that end a turn in this family (also used as stop strings).
    public var endOfTurnStrings: [String] {
        switch family {
        case .chatML: return ["<|im_end|>"]
        case .gemma: return ["<end_of_turn>"]
        case .llama3: return ["<|eot_id|>"]
        case .mistral: return ["</s>"]
        }
    }

    /// The token ids that end a generation for this template: the tokenizer's EOS and end-of-turn
    /// ids plus the family's end-of-turn tokens found in the vocabulary.
    public func stopTokenIDs(_ tokenizer: any TextTokenizer) -> Set<Int> {
        var s = Set(tokenizer.endOfGenerationIDs.map(Int.init))
        for str in endOfTurnStrings { if let id = tokenizer.tokenID(str) { s.insert(Int(id)) } }
        return s
    }

    /// Renders `turns` (any order of system/user/assistant) and, when `addGenerationPrompt`, the
    /// opening of the assistant's turn.
    public func render(_ turns: [ChatTurn], addGenerationPrompt: Bool = true) -> String {
        switch family {
        case .chatML: return renderChatML(turns, addGenerationPrompt)
        case .gemma: return renderGemma(turns, addGenerationPrompt)
        case .llama3: return renderLlama3(turns, addGenerationPrompt)
        case .mistral: return renderMistral(turns)
        }
    }

    /// Renders then tokenizes (model's BOS rule, special tokens parsed).
    public func encode(_ turns: [ChatTurn], tokenizer: any TextTokenizer, addGenerationPrompt: Bool = true) -> [Int32] {
        tokenizer.tokenize(render(turns, addGenerationPrompt: addGenerationPrompt), addBOS: true, parseSpecial: true)
    }

    private static func trim(_ s: String) -> String {
        s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func renderChatML(_ turns: [ChatTurn], _ gen: Bool) -> String {
        var out = ""
        if let d = defaultSystem, turns.first?.role != .system {
            out += "<|im_start|>system\n\(d)<|im_end|>\n"
        }
        for t in turns { out += "<|im_start|>\(t.role.rawValue)\n\(t.content)<|im_end|>\n" }
        if gen { out += "<|im_start|>assistant\n" }
        return out
    }

    /// Gemma has no system role: system text (all system turns, joined) is put at the start of the
    /// first user turn followed by a blank line; contents are trimmed; the assistant is `model`.
    private func renderGemma(_ turns: [ChatTurn], _ gen: Bool) -> String {
        let system = turns.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var prefix = system.isEmpty ? "" : system + "\n\n"
        var out = ""
        for t in turns where t.role != .system {
            let role = t.role == .assistant ? "model" : "user"
            out += "<start_of_turn>\(role)\n\(prefix)\(Self.trim(t.content))<end_of_turn>\n"
            prefix = ""
        }
        if !prefix.isEmpty { out += "<start_of_turn>user\n\(Self.trim(prefix))<end_of_turn>\n" }
        if gen { out += "<start_of_turn>model\n" }
        return out
    }

    private func renderLlama3(_ turns: [ChatTurn], _ gen: Bool) -> String {
        var out = ""
        for t in turns { out += "<|start_header_id|>\(t.role.rawValue)<|end_header_id|>\n\n\(Self.trim(t.content))<|eot_id|>" }
        if gen { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    /// Mistral has no system role either: the system text goes before the first user message,
    /// separated by a blank line (mistral-common's v1 rule). The prompt ends with `[/INST]`.
    private func renderMistral(_ turns: [ChatTurn]) -> String {
        let system = turns.filter { $0.role == .system }.map(\.content).joined(separator: "\n\n")
        var prefix = system.isEmpty ? "" : system + "\n\n"
        var out = ""
        for t in turns where t.role != .system {
            if t.role == .user {
                let c = prefix + t.content
                out += mistralOpen + c + mistralClose
                prefix = ""
            } else {
                out += t.content + "</s>"
            }
        }
        return out
    }
}
