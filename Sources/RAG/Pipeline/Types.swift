import Foundation
import Index

/// One chat turn, as in OpenAI's chat completions.
public struct ChatMessage: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case system, user, assistant }
    public var role: Role
    public var content: String
    public init(role: Role, content: String) { self.role = role; self.content = content }
    public static func system(_ s: String) -> ChatMessage { ChatMessage(role: .system, content: s) }
    public static func user(_ s: String) -> ChatMessage { ChatMessage(role: .user, content: s) }
    public static func assistant(_ s: String) -> ChatMessage { ChatMessage(role: .assistant, content: s) }
}

/// `POST /chat` body: `{"question": "...", "top_k": 4, "history": [{"role", "content"}]}`.
public struct ChatRequest: Codable, Sendable, Equatable {
    public var question: String
    public var topK: Int?
    public var history: [ChatMessage]?
    /// False: no audio (the question and answer are not spoken; `audio` is empty).
    public var speak: Bool
    public init(question: String, topK: Int? = nil, history: [ChatMessage]? = nil, speak: Bool = true) {
        self.question = question; self.topK = topK; self.history = history; self.speak = speak
    }
    enum CodingKeys: String, CodingKey { case question, topK = "top_k", history, speak }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        question = try c.decode(String.self, forKey: .question)
        // Read as a number first: Foundation reports a fraction decoded as Int as invalid JSON,
        // with no field named; this way `2.5` is an error about `top_k`.
        if let k = try c.decodeIfPresent(Double.self, forKey: .topK) {
            guard k == k.rounded(), abs(k) <= 1e9 else {
                throw DecodingError.dataCorruptedError(forKey: .topK, in: c, debugDescription: "top_k must be an integer")
            }
            topK = Int(k)
        }
        history = try c.decodeIfPresent([ChatMessage].self, forKey: .history)
        speak = try c.decodeIfPresent(Bool.self, forKey: .speak) ?? true
    }

    /// The request checked against `limits` and normalised (question trimmed). The one place the
    /// rules live: the server calls it before taking a generation slot (so that a bad request is
    /// a 4xx, never an event of a started stream), the pipeline for every other caller.
    public func validated(_ limits: RequestLimits) throws -> ChatRequest {
        let question = self.question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !question.isEmpty else { throw RAGError.emptyQuestion }
        // Characters, and scalars too: one letter with a million combining marks is one character.
        guard question.count <= limits.maxQuestionLength, question.unicodeScalars.count <= 4 * limits.maxQuestionLength else {
            throw RAGError.questionTooLong(length: question.count, limit: limits.maxQuestionLength)
        }
        if let k = topK, !(1...limits.maxTopK).contains(k) {
            throw RAGError.invalidTopK("top_k must be between 1 and \(limits.maxTopK), got \(k)")
        }
        if let history {
            guard history.count <= limits.maxHistoryMessages else {
                throw RAGError.invalidHistory("'history' has more than \(limits.maxHistoryMessages) messages")
            }
            for message in history {
                guard message.role != .system else {
                    throw RAGError.invalidHistory("history messages are {\"role\": \"user\"|\"assistant\", \"content\": \"...\"}")
                }
                guard message.content.count <= limits.maxHistoryMessageLength,
                      message.content.unicodeScalars.count <= 4 * limits.maxHistoryMessageLength else {
                    throw RAGError.historyTooLong(limit: limits.maxHistoryMessageLength)
                }
            }
        }
        return ChatRequest(question: question, topK: topK, history: history, speak: speak)
    }
}

/// What a chat request may ask for.
public struct RequestLimits: Sendable, Equatable {
    /// Longest question, in characters (after trimming).
    public var maxQuestionLength: Int
    /// Largest `top_k`: the answer uses a handful of passages; more only slows the answer down.
    public var maxTopK: Int
    public var maxHistoryMessages: Int
    /// Longest history message, in characters.
    public var maxHistoryMessageLength: Int

    public init(maxQuestionLength: Int = 4_000, maxTopK: Int = 20, maxHistoryMessages: Int = 50,
                maxHistoryMessageLength: Int? = nil) {
        self.maxQuestionLength = maxQuestionLength
        self.maxTopK = maxTopK
        self.maxHistoryMessages = maxHistoryMessages
        self.maxHistoryMessageLength = maxHistoryMessageLength ?? 4 * maxQuestionLength
    }
}

/// Where the pipeline gets its passages: the index (`IndexRetriever`) or a test double.
public protocol Retriever: Sendable {
    /// The `k` best passages for `query`, best first; none, or `NotCoveredByDocuments` thrown,
    /// when the documents do not cover it.
    func retrieve(query: String, k: Int) async throws -> [SearchHit]
    /// The same passages, with the guess at the answer they were also searched with, if any. The
    /// default gives no guess: a retriever that expands the query implements this one (the
    /// pipeline calls it), and `retrieve` as its hits.
    func retrieval(query: String, k: Int) async throws -> Retrieval
}

extension Retriever {
    public func retrieval(query: String, k: Int) async throws -> Retrieval {
        Retrieval(hits: try await retrieve(query: query, k: k))
    }
}

/// What a search found: the passages, best first, and the guess at the answer written for the
/// search (`QueryExpander`; its text is the "expansion" of the query).
public struct Retrieval: Sendable {
    public var hits: [SearchHit]
    public var expansion: String?
    public init(hits: [SearchHit], expansion: String? = nil) { self.hits = hits; self.expansion = expansion }
}

/// Thrown by a retriever whose relevance gate finds that the documents do not cover a query:
/// the pipeline says so without calling a backend, naming `missingNames` — the names of the
/// question that no document mentions — so that the asker can tell a misspelling or another
/// word for the same thing from a question the documents cannot answer.
public struct NotCoveredByDocuments: Error, Sendable, Equatable {
    public var missingNames: [String]
    public init(missingNames: [String] = []) { self.missingNames = missingNames }
}

/// Where the two spoken WAVs are: URLs (`/audio/<id>.wav`) or, with `?audio=inline`, base64 data.
public struct AudioLinks: Codable, Sendable, Equatable {
    public var question: String?
    public var answer: String?
    public init(question: String? = nil, answer: String? = nil) { self.question = question; self.answer = answer }
}

/// The stored WAVs of a response by id.
public struct AudioIDs: Sendable, Equatable {
    public var question: String?
    public var answer: String?
    public init(question: String? = nil, answer: String? = nil) { self.question = question; self.answer = answer }
}

/// `POST /chat` response.
public struct ChatResponse: Codable, Sendable, Equatable {
    public var question: String
    public var answer: String
    /// The passages the answer drew from; `n` in the answer's `[n]` is the 1-based position here.
    public var sources: [SearchHit]
    public var audio: AudioLinks
    /// `remote`, `extractive`, `local`, or `none` when retrieval found nothing relevant.
    public var backend: String
    /// Milliseconds per stage: `retrieve`, `generate`, `speak_question`, `speak_answer`, `total`, …
    public var timingsMs: [String: Double]
    /// Non-fatal problems (e.g. the remote API failed and another backend answered).
    public var warnings: [String]?
    /// The ids behind `audio`'s URLs (for `AudioStore` lookups such as `?audio=inline`); not in the JSON.
    public var audioIDs = AudioIDs()

    public init(question: String, answer: String, sources: [SearchHit], audio: AudioLinks, backend: String,
                timingsMs: [String: Double], warnings: [String]? = nil, audioIDs: AudioIDs = AudioIDs()) {
        self.question = question; self.answer = answer; self.sources = sources; self.audio = audio
        self.backend = backend; self.timingsMs = timingsMs; self.warnings = warnings; self.audioIDs = audioIDs
    }
    enum CodingKeys: String, CodingKey {
        case question, answer, sources, audio, backend, timingsMs = "timings_ms", warnings
    }
}

/// A spoken clip announced on the stream.
public struct AudioClip: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case question, answer }
    public var kind: Kind
    /// 0 for the question; 0, 1, 2… for the answer's sentences in order.
    public var index: Int
    /// `/audio/<id>.wav`.
    public var url: String
    /// The sentence spoken.
    public var text: String
    public init(kind: Kind, index: Int, url: String, text: String) {
        self.kind = kind; self.index = index; self.url = url; self.text = text
    }
}

/// Events of `POST /chat/stream`, in order: `sources`, then `token`s and `audio`s interleaved, then `done`.
public enum ChatEvent: Sendable, Equatable {
    case sources([SearchHit])
    case token(String)
    case audio(AudioClip)
    /// The full response (its `audio.answer` is the whole answer's WAV).
    case done(ChatResponse)

    /// The SSE event name.
    public var name: String {
        switch self {
        case .sources: return "sources"
        case .token: return "token"
        case .audio: return "audio"
        case .done: return "done"
        }
    }
}

/// What the engine reports to `/health`.
public struct EngineStatus: Sendable, Codable, Equatable {
    public var ready: Bool
    /// Free-form facts: index path, chunk count, backends, voices, model…
    public var info: [String: String]
    public init(ready: Bool, info: [String: String] = [:]) { self.ready = ready; self.info = info }
}

/// The protocol the server calls; `RAGPipeline` implements it, tests inject a stub.
public protocol ChatEngine: Sendable {
    func chat(_ request: ChatRequest) async throws -> ChatResponse
    func chatStream(_ request: ChatRequest) -> AsyncThrowingStream<ChatEvent, Error>
    /// A stored WAV by id (the `<id>` of `/audio/<id>.wav`), nil when unknown or evicted.
    func audio(id: String) async -> Data?
    func status() async -> EngineStatus
    /// What a request may ask for; the server checks requests against it before answering.
    var requestLimits: RequestLimits { get }
}

extension ChatEngine {
    public var requestLimits: RequestLimits { RequestLimits() }
}
