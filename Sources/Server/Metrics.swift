import Foundation

/// Prometheus text exposition, hand-written: request counts by route/method/status, request
/// latency histograms by route, and stage latency histograms (retrieve, generate, speak, …).
public final class ServerMetrics: @unchecked Sendable {
    private let lock = NSLock()
    public static let buckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

    struct Histogram {
        var counts = [UInt64](repeating: 0, count: ServerMetrics.buckets.count)
        var sum = 0.0
        var count: UInt64 = 0
        mutating func observe(_ seconds: Double) {
            for (i, b) in ServerMetrics.buckets.enumerated() where seconds <= b { counts[i] += 1 }
            sum += seconds
            count += 1
        }
    }
    struct RequestKey: Hashable, Comparable {
        var route: String, method: String, status: Int
        static func < (a: Self, b: Self) -> Bool { (a.route, a.method, a.status) < (b.route, b.method, b.status) }
    }

    private var requests: [RequestKey: UInt64] = [:]
    private var latency: [String: Histogram] = [:]
    private var stages: [String: Histogram] = [:]
    private var counters: [String: UInt64] = [:]
    private let started = Date()

    public init() {}

    public func recordRequest(route: String, method: String, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        requests[RequestKey(route: route, method: method, status: status), default: 0] += 1
        latency[route, default: Histogram()].observe(seconds)
    }

    /// One observation of a pipeline stage, in seconds.
    public func recordStage(_ stage: String, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        stages[stage, default: Histogram()].observe(seconds)
    }

    /// Records the stages found in a response's `timings_ms`.
    public func recordTimings(_ timingsMs: [String: Double]) {
        for stage in ["retrieve", "generate", "speak", "first_token", "first_audio"] {
            if let ms = timingsMs[stage] { recordStage(stage, seconds: ms / 1000) }
        }
    }

    public func increment(_ counter: String) {
        lock.lock(); defer { lock.unlock() }
        counters[counter, default: 0] += 1
    }

    public func requestCount(route: String, status: Int) -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        return requests.filter { $0.key.route == route && $0.key.status == status }.values.reduce(0, +)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
    static func number(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }

    private func histogramLines(_ name: String, label: String, _ value: String, _ h: Histogram) -> [String] {
        var out: [String] = []
        for (i, b) in Self.buckets.enumerated() {
            out.append("\(name)_bucket{\(label)=\"\(Self.escape(value))\",le=\"\(Self.number(b))\"} \(h.counts[i])")
        }
        out.append("\(name)_bucket{\(label)=\"\(Self.escape(value))\",le=\"+Inf\"} \(h.count)")
        out.append("\(name)_sum{\(label)=\"\(Self.escape(value))\"} \(h.sum)")
        out.append("\(name)_count{\(label)=\"\(Self.escape(value))\"} \(h.count)")
        return out
    }

    /// The exposition text (`text/plain; version=0.0.4`), extra gauges appended.
    public func render(gauges: [(name: String, help: String, value: Double)] = []) -> String {
        lock.lock(); defer { lock.unlock() }
        var lines: [String] = []
        lines.append("# HELP ragchat_http_requests_total HTTP requests by route, method and status.")
        lines.append("# TYPE ragchat_http_requests_total counter")
        for (k, v) in requests.sorted(by: { $0.key < $1.key }) {
            lines.append("ragchat_http_requests_total{route=\"\(Self.escape(k.route))\",method=\"\(k.method)\",status=\"\(k.status)\"} \(v)")
        }
        lines.append("# HELP ragchat_http_request_duration_seconds HTTP request latency by route.")
        lines.append("# TYPE ragchat_http_request_duration_seconds histogram")
        for (route, h) in latency.sorted(by: { $0.key < $1.key }) {
            lines += histogramLines("ragchat_http_request_duration_seconds", label: "route", route, h)
        }
        lines.append("# HELP ragchat_stage_duration_seconds Pipeline stage latency (retrieve, generate, speak, first_token, first_audio).")
        lines.append("# TYPE ragchat_stage_duration_seconds histogram")
        for (stage, h) in stages.sorted(by: { $0.key < $1.key }) {
            lines += histogramLines("ragchat_stage_duration_seconds", label: "stage", stage, h)
        }
        for (name, v) in counters.sorted(by: { $0.key < $1.key }) {
            lines.append("# TYPE ragchat_\(name)_total counter")
            lines.append("ragchat_\(name)_total \(v)")
        }
        lines.append("# HELP ragchat_uptime_seconds Seconds since the server started.")
        lines.append("# TYPE ragchat_uptime_seconds gauge")
        lines.append("ragchat_uptime_seconds \(Date().timeIntervalSince(started))")
        for g in gauges {
            lines.append("# HELP ragchat_\(g.name) \(g.help)")
            lines.append("# TYPE ragchat_\(g.name) gauge")
            lines.append("ragchat_\(g.name) \(Self.number(g.value))")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
