import Foundation
import Hummingbird
import RAG
import Tensors

/// The routes the server knows, for 405s and metric labels.
package enum RouteTable {
    package static let api: [(path: String, methods: [HTTPRequest.Method])] = [
        ("/health", [.get, .head]),
        ("/chat", [.post]),
        ("/chat/stream", [.post]),
        ("/metrics", [.get]),
        ("/v1/chat/completions", [.post]),
        ("/v1/models", [.get, .head]),
        ("/documents", [.get, .head, .post]),
        ("/documents/events", [.get]),
    ]

    /// A bounded label for metrics: the route, `/audio/{id}.wav`, `static` or `unknown`.
    static func label(path: String, status: Int) -> String {
        if let r = api.first(where: { $0.path == path }) { return r.path }
        if path == "/" { return "/" }
        if path.hasPrefix("/audio/") { return "/audio/{id}.wav" }
        if let route = documentRoute(path) { return route.label }
        return status == 404 ? "unknown" : "static"
    }

    /// Routes that generate answers, under the per-client rate limit.
    static func isRateLimited(path: String) -> Bool {
        path == "/chat" || path == "/chat/stream" || path == "/v1/chat/completions"
    }

    package static func allowed(path: String) -> [HTTPRequest.Method]? {
        if let r = api.first(where: { $0.path == path }) { return r.methods }
        if path.hasPrefix("/audio/") { return [.get, .head] }
        return documentRoute(path)?.methods
    }

    /// `/documents/{id}` and `/documents/{id}/file`.
    private static func documentRoute(_ path: String) -> (label: String, methods: [HTTPRequest.Method])? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].isEmpty, parts[1] == "documents", parts[2] != "events" else { return nil }
        if parts.count == 3 { return ("/documents/{id}", [.delete]) }
        if parts.count == 4, parts[3] == "file" { return ("/documents/{id}/file", [.get, .head]) }
        return nil
    }
}

/// Outermost middleware: 405 for known routes with the wrong method, every error as
/// `{"error": {"code", "message"}}`, request metrics, and a few safety headers.
struct APIMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    let webRoot: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = MonotonicClock.now()
        let path = request.uri.path
        var response: Response
        do {
            // A CORS preflight (OPTIONS with an Origin) is answered or refused by `AccessMiddleware`.
            let preflight = request.method == .options && request.headers[.origin] != nil
            if !preflight, let allowed = RouteTable.allowed(path: path), !allowed.contains(request.method) {
                throw APIError.methodNotAllowed(request.method, allowed: allowed)
            }
            if request.method != .get && request.method != .head && RouteTable.allowed(path: path) == nil
                && isStaticFile(path) {
                throw APIError.methodNotAllowed(request.method, allowed: [.get, .head])
            }
            response = try await next(request, context)
        } catch {
            let api = APIError.from(error)
            if api.status.code >= 500 { context.logger.error("\(request.method) \(path): \(error)") }
            response = try api.response(from: request, context: context)
        }
        response.headers[.init("X-Content-Type-Options")!] = "nosniff"
        let seconds = MonotonicClock.seconds(since: start)
        let status = Int(response.status.code)
        metrics.recordRequest(route: RouteTable.label(path: path, status: status), method: request.method.rawValue,
                              status: status, seconds: seconds)
        return response
    }

    /// True when `path` (as sent) names a file of the page folder.
    private func isStaticFile(_ path: String) -> Bool {
        PageFolder(root: webRoot).serves(rawPath: path)
    }
}
