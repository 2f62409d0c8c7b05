import Foundation
import Index

/// A prompt in both shapes a model may want: chat messages (chat-completion APIs, models with a
/// chat template) and one completion-style string (models without one).
public struct Prompt: Sendable, Equatable {
    public var messages: [ChatMessage]
    public var text: String
    public init(messages: [ChatMessage], text: String) { self.messages = messages; self.text = text }
}

/// What a backend answers from: the question, the retrieved passages (best first) and the
/// conversation so far. Generative backends build their own prompt from it (`PromptBuilder`).
public struct AnswerInput: Sendable {
    public var question: String
    public var passages: [SearchHit]
    public var history: [ChatMessage]
    /// The guess at the answer the passages were also searched with (`QueryExpander`), if any:
    /// never shown; the extractive answer prefers an entry naming a command or option it names.
    public var expansion: String?
    public init(question: String, passages: [SearchHit], history: [ChatMessage] = [], expansion: String? = nil) {
        self.question = question; self.passages = passages; self.history = history; self.expansion = expansion
    }
}

/// Sampling and limits for generative backends.
public struct GenerationOptions: Sendable, Equatable {
    public var maxTokens: Int
    public var temperature: Double
    /// Overall deadline for one answer, in seconds.
    public var timeout: Double
    public init(maxTokens: Int = 512, temperature: Double = 0.2, timeout: Double = 60) {
        self.maxTokens = maxTokens; self.temperature = temperature; self.timeout = timeout
    }
}

/// Produces an answer as a stream of text pieces. Implementations: `RemoteBackend`,
/// `ExtractiveBackend`; the local GGUF model becomes one more.
public protocol AnswerBackend: Sendable {
    /// `remote`, `extractive`, `local`: reported as `backend` in responses.
    var name: String { get }
    /// A one-line description for `/health` (model name, URL…).
    var info: String { get }
    /// Text pieces in order; the answer is their concatenation. Errors end the stream.
    func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error>
}

extension AnswerBackend {
    public var info: String { name }

    /// Collects the whole answer.
    public func complete(_ input: AnswerInput, options: GenerationOptions = GenerationOptions()) async throws -> String {
        var out = ""
        for try await piece in answer(input, options: options) { out += piece }
        return out
    }
}
