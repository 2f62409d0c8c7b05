// Server — Hummingbird application: routes, JSON types, static web/, metrics, health.
// See ARCHITECTURE.md (targets and what each owns).
import Foundation
import Hummingbird
import NIOHTTP1
import RAG

/// The one error type of the `Server` module: an HTTP status, a machine code and a message,
/// sent as `{"error": {"code", "message"}}`.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    /// Extra response headers (e.g. `Retry-After`, `Allow`).
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status; self.code = code; self.message = message; self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Self.body(code: code, message: message))))
    }

    /// `{"error": {"code": ..., "message": ...}}`
    public static func body(code: String, message: String) -> [UInt8] {
        struct Payload: Encodable { struct Inner: Encodable { var code: String; var message: String }; var error: Inner }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array((try? encoder.encode(Payload(error: .init(code: code, message: message)))) ?? Data("{\"error\":{\"code\":\"internal_error\",\"message\":\"\"}}".utf8))
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError { APIError(.badRequest, code: code, message: message) }
    public static func notFound(_ message: String = "no such route") -> APIError { APIError(.notFound, code: "not_found", message: message) }
    /// 413; the connection is closed after it (the rest of the body is not read).
    public static func tooLarge(_ message: String, code: String = "payload_too_large") -> APIError {
        APIError(.contentTooLarge, code: code, message: message, headers: [.connection: "close"])
    }
    public static func unsupportedMediaType(_ message: String) -> APIError { APIError(.unsupportedMediaType, code: "unsupported_media_type", message: message) }
    public static func methodNotAllowed(_ method: HTTPRequest.Method, allowed: [HTTPRequest.Method]) -> APIError {
        var h = HTTPFields()
        h[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return APIError(.methodNotAllowed, code: "method_not_allowed",
                        message: "\(method.rawValue) is not allowed here (allowed: \(allowed.map(\.rawValue).joined(separator: ", ")))", headers: h)
    }
    public static func busy(retryAfter: Int, _ message: String) -> APIError {
        var h = HTTPFields()
        h[.retryAfter] = String(retryAfter)
        return APIError(.serviceUnavailable, code: "busy", message: message, headers: h)
    }

    /// Maps any error to an `APIError` (RAG errors to their status, the rest to 500).
    public static func from(_ error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        // A request NIO could not parse (malformed chunked body, bad framing): the client's fault,
        // and the connection cannot be read further, so it is closed after the answer.
        if let e = error as? HTTPParserError {
            return APIError(.badRequest, code: "malformed_request", message: "malformed HTTP request: \(e)",
                            headers: [.connection: "close"])
        }
        if let e = error as? RAGError {
            let status: HTTPResponse.Status
            switch e {
            case .invalidRequest, .emptyQuestion, .invalidTopK, .invalidHistory: status = .badRequest
            case .questionTooLong, .historyTooLong: status = .contentTooLarge
            case .retrieval, .backend, .speech: status = .internalServerError
            case .noBackend, .indexUnavailable: status = .serviceUnavailable
            case .upstream, .connection, .invalidResponse: status = .badGateway
            case .timeout: status = .gatewayTimeout
            }
            // Like `tooLarge`: the connection is closed after a 413.
            return APIError(status, code: e.code, message: e.clientMessage,
                            headers: status == .contentTooLarge ? [.connection: "close"] : [:])
        }
        if let e = error as? any HTTPResponseError {
            let code: String
            switch e.status {
            case .notFound: code = "not_found"
            case .badRequest: code = "bad_request"
            case .contentTooLarge: code = "payload_too_large"
            case .methodNotAllowed: code = "method_not_allowed"
            case .unsupportedMediaType: code = "unsupported_media_type"
            default: code = "http_\(e.status.code)"
            }
            let message = (e as? HTTPError)?.body ?? e.status.reasonPhrase
            return APIError(e.status, code: code, message: message,
                            headers: e.status == .contentTooLarge ? [.connection: "close"] : [:])
        }
        if error is CancellationError { return APIError(.serviceUnavailable, code: "cancelled", message: "the request was cancelled") }
        // The details (paths, system errors) are logged by the middleware, not sent.
        return APIError(.internalServerError, code: "internal_error", message: "internal error")
    }
}
