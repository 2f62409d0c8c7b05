import Foundation
import Hummingbird
import RAG

/// `GET /health`:
/// - 200 `"status": "ok"` when ready;
/// - 200 `"status": "degraded"` when ready but a configured part failed to load (a backend, the
///   encoder): it answers without it, `reasons` says what is missing;
/// - 503 `"status": "degraded"` when every generation slot has been held, with requests waiting
///   or turned away, for longer than the request timeout without one being freed (answers are
///   stuck; `reasons` and `error` say so);
/// - 503 `"status": "loading"` while loading, `"failed"` after a failed load.
struct HealthController<Context: RequestContext>: Sendable {
    let holder: EngineHolder
    let limiter: GenerationLimiter
    let configuration: ServerConfiguration

    struct Body: Encodable {
        var status: String
        var ready: Bool
        var info: [String: String]?
        var error: String?
        var reasons: [String]?
        var queue: [String: Int]
        /// True when the API needs the server key (the page then asks for it).
        var auth_required: Bool = false
    }

    /// `/home/me/models/x.gguf: truncated` → `x.gguf: truncated`.
    static func withoutPaths(_ text: String) -> String {
        text.replacing(/(?:\/[^\/\s:'"()]+)+\/([^\/\s:'"()]+)/) { String($0.output.1) }
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/health", use: health)
        router.head("/health", use: health)
    }

    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        let keyRequired = configuration.serverKey != nil
        // Anyone may read /health: file paths in load problems are cut to their file names.
        func body(_ status: String, ready: Bool, info: [String: String]? = nil, error: String? = nil,
                  reasons: [String]? = nil, queue: [String: Int]) -> Body {
            Body(status: status, ready: ready, info: info, error: error.map(Self.withoutPaths),
                 reasons: reasons?.map(Self.withoutPaths), queue: queue, auth_required: keyRequired)
        }
        let queue = ["active": limiter.active, "waiting": limiter.waiting,
                     "max_concurrent": limiter.maxConcurrent, "max_waiting": limiter.maxWaiting]
        switch await holder.current {
        case .ready(let engine):
            let status = await engine.status()
            guard status.ready else {
                var r = try ChatController<Context>.json(body("loading", ready: false, info: status.info, queue: queue),
                                                         status: .serviceUnavailable)
                r.headers[.retryAfter] = String(configuration.retryAfterSeconds)
                return r
            }
            var reasons = await holder.loadProblems
            var stalled = false
            if let seconds = limiter.stalled(longerThan: configuration.requestTimeout) {
                stalled = true
                reasons.append("no generation slot freed for \(Int(seconds)) s (request timeout \(Int(configuration.requestTimeout)) s) "
                               + "while requests wait: answers are stuck")
            }
            let ready = body(reasons.isEmpty ? "ok" : "degraded", ready: true, info: status.info,
                             error: stalled ? reasons.last : nil, reasons: reasons.isEmpty ? nil : reasons, queue: queue)
            return try ChatController<Context>.json(ready, status: stalled ? .serviceUnavailable : .ok)
        case .loading:
            var r = try ChatController<Context>.json(body("loading", ready: false, queue: queue), status: .serviceUnavailable)
            r.headers[.retryAfter] = String(configuration.retryAfterSeconds)
            return r
        case .failed(let message):
            return try ChatController<Context>.json(body("failed", ready: false, error: message, queue: queue),
                                                    status: .serviceUnavailable)
        }
    }
}

/// `GET /audio/<id>.wav`.
struct AudioController<Context: RequestContext>: Sendable {
    let holder: EngineHolder

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/audio/:file", use: audio)
        router.head("/audio/:file", use: audio)
    }

    @Sendable func audio(_ request: Request, context: Context) async throws -> Response {
        let file = context.parameters.get("file") ?? ""
        guard file.hasSuffix(".wav"), case .ready(let engine) = await holder.current,
              let wav = await engine.audio(id: String(file.dropLast(4))) else {
            throw APIError.notFound("no such audio clip (clips are kept for a limited time)")
        }
        return Response(status: .ok,
                        headers: [.contentType: "audio/wav", .cacheControl: "private, max-age=3600",
                                  .contentLength: String(wav.count)],
                        body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(bytes: wav)))
    }
}

/// `GET /metrics` (Prometheus text format 0.0.4).
struct MetricsController<Context: RequestContext>: Sendable {
    let metrics: ServerMetrics
    let limiter: GenerationLimiter

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/metrics", use: render)
    }

    @Sendable func render(_ request: Request, context: Context) async throws -> Response {
        let text = metrics.render(gauges: [
            ("generations_active", "Generations running now.", Double(limiter.active)),
            ("generations_waiting", "Requests waiting for a generation slot.", Double(limiter.waiting)),
        ])
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
