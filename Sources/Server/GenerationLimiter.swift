import Foundation
import RAG

/// Bounds generations: at most `maxConcurrent` run, at most `maxWaiting` wait (FIFO, each for at
/// most `timeout` seconds); beyond that `acquire` throws a 503 `APIError` with Retry-After.
public actor GenerationLimiter {
    public nonisolated let maxConcurrent: Int
    public nonisolated let maxWaiting: Int
    public nonisolated let timeout: Double
    public nonisolated let retryAfter: Int
    private var running = 0
    private var waiters: [(id: UInt64, continuation: CheckedContinuation<Void, Error>)] = []
    private var nextID: UInt64 = 0

    public init(maxConcurrent: Int, maxWaiting: Int, timeout: Double = 30, retryAfter: Int = 2) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxWaiting = max(0, maxWaiting)
        self.timeout = timeout
        self.retryAfter = retryAfter
    }

    public var active: Int { running }
    public var waiting: Int { waiters.count }

    /// Waits for a slot; call `release()` exactly once after a successful `acquire()`.
    public func acquire() async throws {
        if running < maxConcurrent { running += 1; return }
        guard waiters.count < maxWaiting else {
            throw APIError.busy(retryAfter: retryAfter, "the server is busy (\(running) answering, \(waiters.count) waiting); retry later")
        }
        nextID += 1
        let id = nextID
        let timeout = self.timeout
        let timer = Task { [weak self] in
            try? await Task.sleep(nanoseconds: UInt64(timeout * 1e9))
            await self?.expire(id, reason: APIError.busy(retryAfter: self?.retryAfter ?? 2, "waited \(Int(timeout)) s for a free slot; retry later"))
        }
        defer { timer.cancel() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                waiters.append((id, c))
            }
        } onCancel: {
            Task { await self.expire(id, reason: CancellationError()) }
        }
    }

    private func expire(_ id: UInt64, reason: any Error) {
        guard let i = waiters.firstIndex(where: { $0.id == id }) else { return }
        let w = waiters.remove(at: i)
        w.continuation.resume(throwing: reason)
    }

    public func release() {
        if !waiters.isEmpty {
            let w = waiters.removeFirst()   // the slot passes to the next waiter
            w.continuation.resume()
        } else {
            running = max(0, running - 1)
        }
    }

    /// Runs `body` in a slot.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await acquire()
        do {
            let v = try await body()
            release()
            return v
        } catch {
            release()
            throw error
        }
    }
}

/// The engine, once loaded. `/health` and the chat routes answer 503 while loading.
public actor EngineHolder {
    public enum State: Sendable {
        case loading
        case ready(any ChatEngine)
        case failed(String)
    }
    private var state: State = .loading
    public init() {}
    public init(engine: any ChatEngine) { state = .ready(engine) }
    public func set(_ engine: any ChatEngine) { state = .ready(engine) }
    public func fail(_ message: String) { state = .failed(message) }
    public var current: State { state }
}
