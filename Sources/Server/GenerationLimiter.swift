import Foundation
import RAG
import Synchronization

/// Bounds generations: at most `maxConcurrent` run, at most `maxWaiting` wait (FIFO, each for at
/// most `timeout` seconds); beyond that a 503 `APIError` with Retry-After.
///
/// A slot, or a place in the queue, is only ever held by a `GenerationLease`, and given back in
/// one place: `GenerationLimiter.release(_:)`, reached from `GenerationLease.release()`
/// (idempotent) when its owner's work ends, or from the lease's `deinit` when its owner is gone
/// without saying so (a response body never written because the client left, a waiting task
/// that ended). No path of a request can therefore keep a slot. The state sits behind a
/// `Mutex`, so releasing is synchronous and can happen anywhere, `deinit` included.
public final class GenerationLimiter: Sendable {
    public let maxConcurrent: Int
    public let maxWaiting: Int
    public let timeout: Double
    public let retryAfter: Int

    /// What a lease holds.
    private enum Hold {
        /// A place in the queue, with the continuation of its waiter once it waits.
        case waiting(CheckedContinuation<Void, any Error>?)
        case running
    }

    private struct State {
        var running = 0
        var queue: [UInt64] = []   // waiting leases, oldest first
        var holds: [UInt64: Hold] = [:]
        var nextID: UInt64 = 0
        /// When a slot was last freed, or the last free slot taken: the start of a possible stall.
        var lastProgress = ContinuousClock.now
        /// A request was turned away (queue full) since `lastProgress`.
        var turnedAway = false
    }

    private let state = Mutex(State())

    public init(maxConcurrent: Int, maxWaiting: Int, timeout: Double = 30, retryAfter: Int = 2) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxWaiting = max(0, maxWaiting)
        self.timeout = timeout
        self.retryAfter = retryAfter
    }

    /// Generations running now.
    public var active: Int { state.withLock { $0.running } }
    /// Requests waiting for a slot now.
    public var waiting: Int { state.withLock { $0.queue.count } }

    /// How long no slot has been freed while every slot is taken and requests wait (or were
    /// turned away), in seconds, when that is longer than `threshold`; nil otherwise. Every
    /// generation ends within the request timeout, so a longer stall means one does not stop.
    public func stalled(longerThan threshold: Double) -> Double? {
        state.withLock { s in
            guard s.running >= maxConcurrent, !s.queue.isEmpty || s.turnedAway else { return nil }
            let d = s.lastProgress.duration(to: .now).components
            let seconds = Double(d.seconds) + Double(d.attoseconds) / 1e18
            return seconds > threshold ? seconds : nil
        }
    }

    /// A slot, or a place in the queue when none is free.
    /// - Throws: `APIError` 503 `busy` when the queue is full.
    public func reserve() throws -> GenerationLease {
        let id = try state.withLock { s throws(APIError) -> UInt64 in
            s.nextID += 1
            let id = s.nextID
            if s.running < maxConcurrent {
                s.running += 1
                s.holds[id] = .running
                if s.running == maxConcurrent { s.lastProgress = .now }
                return id
            }
            guard s.queue.count < maxWaiting else {
                s.turnedAway = true
                throw APIError.busy(retryAfter: retryAfter,
                                    "the server is busy (\(s.running) answering, \(s.queue.count) waiting); retry later")
            }
            s.queue.append(id)
            s.holds[id] = .waiting(nil)
            return id
        }
        return GenerationLease(limiter: self, id: id)
    }

    /// A running slot: at once when one is free, else after waiting in the queue.
    /// - Throws: `APIError` 503 `busy` when the queue is full or the wait exceeds `timeout`;
    ///   `CancellationError` when the waiting task is cancelled (the client left). Either way the
    ///   queue place is given back before this returns.
    public func acquire() async throws -> GenerationLease {
        let lease = try reserve()
        do {
            try await waitUntilRunning(lease.id)
        } catch {
            lease.release()
            throw error
        }
        return lease
    }

    /// Runs `body` in a slot, released when it returns or throws.
    public func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        let lease = try await acquire()
        defer { lease.release() }
        return try await body()
    }

    /// Waits, at most `timeout` seconds, until the lease `id` runs.
    private func waitUntilRunning(_ id: UInt64) async throws {
        if state.withLock({ s in if case .running? = s.holds[id] { true } else { false } }) { return }
        let seconds = timeout, retryAfter = self.retryAfter
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await self.parkUntilRunning(id) }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
                throw APIError.busy(retryAfter: retryAfter, "waited \(Int(seconds)) s for a free slot; retry later")
            }
            // The first to finish decides; the other is cancelled (cancelling the wait takes the
            // lease out of the queue, unless it has just been given a slot: its owner releases that).
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func parkUntilRunning(_ id: UInt64) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now: Bool? = state.withLock { s in
                    switch s.holds[id] {
                    case .running?: return true
                    case .waiting?: s.holds[id] = .waiting(continuation); return nil
                    case nil: return false   // withdrawn (cancelled) before it could wait
                    }
                }
                switch now {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            withdraw(id)
        }
    }

    /// Takes the lease `id` out of the queue if it is still waiting (a running one stays with its owner).
    private func withdraw(_ id: UInt64) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, any Error>?? in
            guard case .waiting(let continuation)? = s.holds[id] else { return nil }
            s.holds[id] = nil
            s.queue.removeAll { $0 == id }
            return .some(continuation)
        }
        if case let continuation?? = waiter { continuation.resume(throwing: CancellationError()) }
    }

    /// Gives back what the lease `id` holds; a freed slot goes to the oldest waiter. Idempotent.
    fileprivate func release(_ id: UInt64) {
        enum Wake { case none, granted(CheckedContinuation<Void, any Error>), withdrawn(CheckedContinuation<Void, any Error>) }
        let wake = state.withLock { s -> Wake in
            switch s.holds.removeValue(forKey: id) {
            case nil:
                return .none
            case .waiting(let continuation)?:
                s.queue.removeAll { $0 == id }
                return continuation.map { .withdrawn($0) } ?? .none
            case .running?:
                s.lastProgress = .now
                s.turnedAway = false
                guard !s.queue.isEmpty else {
                    s.running -= 1
                    return .none
                }
                let next = s.queue.removeFirst()   // the slot passes to the oldest waiter
                let hold = s.holds[next]
                s.holds[next] = .running
                if case .waiting(let continuation?)? = hold { return .granted(continuation) }
                return .none
            }
        }
        switch wake {
        case .none: break
        case .granted(let c): c.resume()
        case .withdrawn(let c): c.resume(throwing: CancellationError())
        }
    }
}

/// The one owner of a generation slot (or of a queue place while waiting for one). `release()`
/// gives it back and may be called any number of times; dropping the last reference releases it too.
public final class GenerationLease: Sendable {
    private let limiter: GenerationLimiter
    fileprivate let id: UInt64

    fileprivate init(limiter: GenerationLimiter, id: UInt64) {
        self.limiter = limiter
        self.id = id
    }

    public func release() { limiter.release(id) }

    deinit { limiter.release(id) }
}

/// The engine, once loaded, and the configured parts that failed to load (reported by `/health`).
/// `/health` and the chat routes answer 503 while loading.
public actor EngineHolder {
    public enum State: Sendable {
        case loading
        case ready(any ChatEngine)
        case failed(String)
    }
    private var state: State = .loading
    private var problems: [String] = []
    private var documents: DocumentLibrary?
    public init() {}
    public init(engine: any ChatEngine, problems: [String] = [], library: DocumentLibrary? = nil) {
        state = .ready(engine)
        self.problems = problems
        documents = library
    }
    public func set(_ engine: any ChatEngine, problems: [String] = [], library: DocumentLibrary? = nil) {
        state = .ready(engine)
        self.problems = problems
        documents = library
    }
    /// The documents the server manages (nil: no data folder configured, or still loading).
    public var library: DocumentLibrary? { documents }
    public func fail(_ message: String) { state = .failed(message) }
    public var current: State { state }
    /// Configured parts that did not load (a backend, the encoder), each with its reason.
    public var loadProblems: [String] { problems }
}
