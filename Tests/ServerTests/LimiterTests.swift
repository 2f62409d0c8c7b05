import Foundation
import Hummingbird
import HummingbirdTesting
import RAG
import Server
import Testing

/// `GenerationLimiter` and its leases: a slot or a queue place comes back on every path.
@Suite struct LimiterTests {
    @Test func releaseIsIdempotentAndPassesTheSlotOn() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 2, timeout: 5)
        let first = try await limiter.acquire()
        #expect(limiter.active == 1)
        let second = Task { try await limiter.acquire() }
        try await waitUntil { limiter.waiting == 1 }
        first.release()
        first.release()   // a second release changes nothing
        let lease = try await second.value
        #expect(limiter.active == 1 && limiter.waiting == 0)
        lease.release()
        #expect(limiter.active == 0)
        first.release()
        #expect(limiter.active == 0)
    }

    @Test func aDroppedLeaseGivesItsSlotBack() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 2, maxWaiting: 0)
        do {
            let a = try await limiter.acquire()
            let b = try limiter.reserve()
            #expect(limiter.active == 2)
            _ = (a, b)
        }
        #expect(limiter.active == 0)
        // A response body that is never written holds its lease until the body is dropped.
        var body: ResponseBody? = try await { [limiter] in
            let lease = try await limiter.acquire()
            return ResponseBody { _ in lease.release() }
        }()
        #expect(limiter.active == 1)
        body = nil
        #expect(body == nil && limiter.active == 0)
    }

    @Test func aFullQueueIsBusyAtOnce() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 1, timeout: 5, retryAfter: 3)
        let running = try limiter.reserve()
        let waiting = try limiter.reserve()
        #expect(limiter.active == 1 && limiter.waiting == 1)
        #expect(throws: APIError.self) { try limiter.reserve() }
        waiting.release()   // a queue place comes back too
        #expect(limiter.waiting == 0)
        running.release()
        #expect(limiter.active == 0)
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 4, timeout: 30)
        let running = try await limiter.acquire()
        let waiter = Task { try await limiter.acquire() }
        try await waitUntil { limiter.waiting == 1 }
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
        #expect(limiter.waiting == 0 && limiter.active == 1)
        running.release()
        #expect(limiter.active == 0)
    }

    @Test func aWaitLongerThanTheTimeoutIsBusy() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 4, timeout: 0.2)
        let running = try await limiter.acquire()
        do {
            _ = try await limiter.acquire()
            Issue.record("acquired a slot that was taken")
        } catch let e as APIError {
            #expect(e.status == .serviceUnavailable && e.code == "busy")
        }
        #expect(limiter.waiting == 0)
        running.release()
        #expect(limiter.active == 0)
    }

    @Test func waitersAreServedInOrder() async throws {
        // (A long wait limit: other suites may keep every core busy while this one runs.)
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 8, timeout: 600)
        let order = OrderLog()
        let first = try await limiter.acquire()
        var tasks: [Task<Void, any Error>] = []
        for i in 0..<5 {
            tasks.append(Task { try await limiter.run { await order.add(i) } })
            try await waitUntil { limiter.waiting == i + 1 }
        }
        first.release()
        for t in tasks { try await t.value }
        #expect(await order.items == [0, 1, 2, 3, 4])
        #expect(limiter.active == 0 && limiter.waiting == 0)
    }

    @Test func manyRacingClientsLeaveNothingBehind() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 2, maxWaiting: 8, timeout: 0.5)
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask {
                    let task = Task { try await limiter.run { try await Task.sleep(nanoseconds: UInt64(i % 7) * 1_000_000) } }
                    if i % 3 == 0 { task.cancel() }
                    _ = try? await task.value
                }
            }
        }
        #expect(limiter.active == 0 && limiter.waiting == 0)
    }

    @Test func stallIsReportedOnlyWhenSlotsAreHeldTooLongWithDemand() async throws {
        let limiter = GenerationLimiter(maxConcurrent: 1, maxWaiting: 1, timeout: 5)
        let running = try limiter.reserve()
        try await Task.sleep(nanoseconds: 150_000_000)
        #expect(limiter.stalled(longerThan: 0.1) == nil, "no one waits")
        let waiting = try limiter.reserve()
        #expect((limiter.stalled(longerThan: 0.1) ?? 0) > 0.1)
        #expect(limiter.stalled(longerThan: 3600) == nil)
        waiting.release()
        running.release()
        #expect(limiter.stalled(longerThan: 0) == nil)
    }

    /// `/health` is 503 "degraded" while a generation that ignores its deadline keeps the only
    /// slot with a request waiting, and "ok" again once it ends.
    @Test func healthReportsAStalledLimiter() async throws {
        let gate = LoadGate()   // the stub's chat waits for it, ignoring cancellation
        let app = buildApplication(testConfiguration { $0.maxConcurrent = 1; $0.maxWaiting = 2; $0.requestTimeout = 0.3; $0.queueTimeout = 600 },
                                   engine: StubEngine(gate: gate))
        try await app.test(.router) { client in
            let requests = Task {
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for _ in 0..<2 {
                        group.addTask {
                            try await client.execute(uri: "/chat", method: .post, headers: jsonHeaders, body: json(["question": "ok"])) { $0.status }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            // Degraded once one request holds the slot past its deadline and the other waits
            // (polled: on a busy machine the requests may take a while to get there).
            for _ in 0..<600 {
                let degraded = try await client.execute(uri: "/health", method: .get) { $0.status == .serviceUnavailable }
                if degraded { break }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .serviceUnavailable)
                #expect(r.object["status"] as? String == "degraded")
                #expect((r.object["reasons"] as? [String])?.first?.contains("stuck") == true, "\(r.text)")
                #expect((r.object["queue"] as? [String: Int])?["waiting"] == 1)
            }
            await gate.open()
            let statuses = try await requests.value
            #expect(statuses.contains(.gatewayTimeout) && statuses.contains(.ok), "\(statuses)")
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.object["status"] as? String == "ok")
            }
        }
    }

    @Test func healthReportsBackendsThatFailedToLoad() async throws {
        let holder = EngineHolder(engine: StubEngine(), problems: ["backend local failed to load m.gguf: truncated"])
        let app = buildApplication(ServerState(configuration: testConfiguration(), holder: holder))
        try await app.test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { r in
                #expect(r.status == .ok)
                #expect(r.object["status"] as? String == "degraded")
                #expect(r.object["reasons"] as? [String] == ["backend local failed to load m.gguf: truncated"])
            }
        }
    }

    @Test func connectionTimeoutSettings() {
        var c = ServerConfiguration()
        #expect(c.connectionTimeouts == ConnectionTimeouts(idle: 60, header: 10, body: 30))
        c.idleTimeout = 0
        c.headerTimeout = 2.5
        #expect(c.connectionTimeouts == ConnectionTimeouts(idle: nil, header: 2.5, body: 30))
    }
}

actor OrderLog {
    private(set) var items: [Int] = []
    func add(_ i: Int) { items.append(i) }
}

/// Polls `condition` every 5 ms for at most 5 s.
func waitUntil(_ condition: @Sendable () -> Bool) async throws {
    for _ in 0..<12_000 where !condition() { try await Task.sleep(nanoseconds: 5_000_000) }
    try #require(condition())
}
