// RAG — the pipeline: retrieve → answer (remote, local, extractive; generative answers checked) → speak.
// See ARCHITECTURE.md (targets and what each owns).

/// The one error type of the `RAG` module. The server maps each case to an HTTP status.
public enum RAGError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The request itself is unacceptable → 400.
    case invalidRequest(String)
    /// The question is empty or blank → 400.
    case emptyQuestion
    /// The question is longer than the configured limit → 413.
    case questionTooLong(length: Int, limit: Int)
    /// `top_k` is out of range → 400.
    case invalidTopK(String)
    /// `history` is not a list of user/assistant messages within the limits → 400.
    case invalidHistory(String)
    /// A history message is longer than the limit → 413.
    case historyTooLong(limit: Int)
    /// The retriever (index search) failed.
    case retrieval(String)
    /// The index's database cannot be reached (a PostgreSQL server restarting): → 503, and the
    /// next request tries again.
    case indexUnavailable(String)
    /// No answer backend is configured or available.
    case noBackend
    /// The remote API answered with an HTTP error: its status and message.
    case upstream(status: Int, message: String)
    /// The remote API could not be reached (connection refused, DNS, TLS, closed early).
    case connection(url: String, message: String)
    /// A deadline passed (remote request, generation).
    case timeout(what: String, seconds: Double)
    /// The remote API answered something that is not an OpenAI-compatible completion.
    case invalidResponse(String)
    /// A backend failed in its own way (e.g. the local model).
    case backend(name: String, message: String)
    /// Speech synthesis failed.
    case speech(String)

    public var description: String {
        switch self {
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .emptyQuestion: return "the question is empty"
        case .invalidTopK(let m): return m
        case .invalidHistory(let m): return m
        case .historyTooLong(let limit): return "a history message is longer than \(limit) characters"
        case .questionTooLong(let n, let limit): return "question too long: \(n) characters (limit \(limit))"
        case .retrieval(let m): return "retrieval failed: \(m)"
        case .indexUnavailable(let m): return "index unavailable: \(m)"
        case .noBackend: return "no answer backend is available"
        case .upstream(let status, let message): return "remote API error \(status): \(message)"
        case .connection(let url, let message): return "cannot reach \(url): \(message)"
        case .timeout(let what, let s): return "\(what) timed out after \(String(format: "%.1f", s)) s"
        case .invalidResponse(let m): return "invalid response from the remote API: \(m)"
        case .backend(let name, let m): return "\(name) backend failed: \(m)"
        case .speech(let m): return "speech synthesis failed: \(m)"
        }
    }

    /// What a client is told: what failed, without the remote API's address, its reply, file
    /// paths or system error details (those go to the log, through `description`).
    public var clientMessage: String {
        switch self {
        case .invalidRequest, .emptyQuestion, .invalidTopK, .invalidHistory, .historyTooLong, .questionTooLong, .noBackend:
            return description
        case .retrieval: return "the document search failed"
        case .indexUnavailable: return "the document index is unavailable for the moment; try again shortly"
        case .upstream(let status, _): return "the remote API answered with an error (HTTP \(status))"
        case .connection: return "the remote API could not be reached"
        case .timeout(let what, let s): return "\(what) timed out after \(String(format: "%.1f", s)) s"
        case .invalidResponse: return "the remote API answered something that is not a chat completion"
        case .backend(let name, _): return "the \(name) backend failed"
        case .speech: return "speech synthesis failed"
        }
    }

    /// A short machine-readable code for JSON error bodies.
    public var code: String {
        switch self {
        case .invalidRequest: return "invalid_request"
        case .emptyQuestion: return "empty_question"
        case .invalidTopK: return "invalid_top_k"
        case .invalidHistory: return "invalid_history"
        case .historyTooLong: return "history_too_long"
        case .questionTooLong: return "question_too_long"
        case .retrieval: return "retrieval_failed"
        case .indexUnavailable: return "index_unavailable"
        case .noBackend: return "no_backend"
        case .upstream: return "upstream_error"
        case .connection: return "upstream_unreachable"
        case .timeout: return "timeout"
        case .invalidResponse: return "upstream_invalid_response"
        case .backend: return "backend_error"
        case .speech: return "speech_failed"
        }
    }
}
