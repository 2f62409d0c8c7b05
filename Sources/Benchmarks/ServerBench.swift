import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import RAG
import Server
import Speech
import Tensors
import TestSupport

/// Latency figures of one benchmark run, in milliseconds.
public struct LatencyStats: Sendable, CustomStringConvertible {
    public var name: String
    public var samples: [Double]
    public var errors: Int
    public init(name: String, samples: [Double], errors: Int) { self.name = name; self.samples = samples; self.errors = errors }

    public func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let sorted = samples.sorted()
        let rank = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }
    public var p50: Double { percentile(50) }
    public var p95: Double { percentile(95) }
    public var mean: Double { samples.isEmpty ? .nan : samples.reduce(0, +) / Double(samples.count) }
    public var description: String {
        "\(name): " + String(format: "n=%d p50=%.1f ms p95=%.1f ms mean=%.1f ms max=%.1f ms errors=%d",
                             samples.count, p50, p95, mean, samples.max() ?? .nan, errors)
    }
}

/// Server benchmarks the lead wires into `ragchat bench`: `/chat` latency (extractive backend,
/// remote backend against the fake OpenAI server), time to the first `audio` event on
/// `/chat/stream`, and the TTS real-time factor. Everything runs on loopback, in process.
public enum ServerBench {
    public static let questions = [
        "Quelles sont les différentes variantes de la tarte aux pommes ?",
        "Comment faire une tarte aux pommes ?",
        "Quel est le secret d'une bonne tarte aux pommes ?",
    ]

    public enum Backend: Sendable { case extractive, remoteFake }

    /// Starts a server on a free loopback port with a pipeline over `retriever`, runs `body`
    /// with its base URL, and stops it.
    /// - Parameters:
    ///   - audioCache: false: no memory or disk audio cache, every request synthesises.
    public static func withServer<T: Sendable>(retriever: any Retriever, backend: Backend, speak: Bool = true,
                                               audioCache: Bool = false, tokenDelay: Double = 0,
                                               _ body: @Sendable (String) async throws -> T) async throws -> T {
        var fake: FakeOpenAIServer?
        var backends: [any AnswerBackend] = [ExtractiveBackend()]
        if backend == .remoteFake {
            let f = try await FakeOpenAIServer.start(tokenDelay: tokenDelay)
            fake = f
            backends = [RemoteBackend(configuration: RemoteConfiguration(baseURL: f.baseURL, model: "bench"))]
        }
        var config = ServerConfiguration()
        config.rateLimit = RateLimit(perMinute: 0, burst: 1)   // one client address makes all the load
        config.port = 0
        config.maxConcurrent = 8
        config.maxWaiting = 64
        let speaker = speak ? try Speaker(configuration: SpeechConfiguration(cacheDirectory: nil, memoryCacheBytes: audioCache ? 64 << 20 : 0)) : nil
        let pipeline = RAGPipeline(retriever: retriever, backends: backends, speaker: speaker,
                                   configuration: PipelineConfiguration(speak: speak))
        let state = ServerState(configuration: config, holder: EngineHolder(engine: pipeline))
        var logger = Logger(label: "ragchat.bench")
        logger.logLevel = .critical
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let app = buildApplication(state, logger: logger) { port in portSink.yield(port); portSink.finish() }
        let task = Task { defer { portSink.finish() }; try await app.run() }
        var port = 0
        for await p in ports { port = p; break }
        defer { task.cancel() }
        guard port > 0 else { throw APIError(.internalServerError, code: "bench", message: "the bench server did not start") }
        do {
            let result = try await body("http://127.0.0.1:\(port)")
            task.cancel(); _ = await task.result
            await fake?.stop()
            return result
        } catch {
            task.cancel(); _ = await task.result
            await fake?.stop()
            throw error
        }
    }

    static func post(_ url: String, question: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let body = (try? JSONSerialization.data(withJSONObject: ["question": question])) ?? Data()
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// `/chat` latency over `requests` sequential requests cycling through `questions`.
    public static func chatLatency(retriever: any Retriever, backend: Backend, requests: Int = 30, speak: Bool = true,
                                   audioCache: Bool = false, questions: [String] = questions) async throws -> LatencyStats {
        let name = "/chat \(backend == .extractive ? "extractive" : "remote(fake)")\(speak ? "" : " no-speech")\(audioCache ? " audio-cache" : "")"
        return try await withServer(retriever: retriever, backend: backend, speak: speak, audioCache: audioCache) { base in
            let client = RemoteBackend.sharedClient
            _ = try? await client.execute(post(base + "/chat", question: "échauffement"), timeout: .seconds(60))   // warm-up
            var samples: [Double] = [], errors = 0
            for i in 0..<requests {
                let start = MonotonicClock.now()
                do {
                    let r = try await client.execute(post(base + "/chat", question: questions[i % questions.count]), timeout: .seconds(120))
                    _ = try await r.body.collect(upTo: 16 << 20)
                    if r.status.code == 200 { samples.append(MonotonicClock.milliseconds(since: start)) } else { errors += 1 }
                } catch { errors += 1 }
            }
            return LatencyStats(name: name, samples: samples, errors: errors)
        }
    }

    /// Time from sending `POST /chat/stream` to the first `token` and to the first answer `audio`
    /// event, and to `done`.
    public struct StreamTimings: Sendable, CustomStringConvertible {
        public var firstToken: LatencyStats
        public var firstAnswerAudio: LatencyStats
        public var done: LatencyStats
        public var description: String { [firstToken, firstAnswerAudio, done].map(\.description).joined(separator: "\n") }
    }

    /// With `backend: .remoteFake` and `tokenDelay` > 0 the answer is produced slowly, as by a
    /// model: the first sentence's audio then arrives well before `done`.
    public static func streamTimings(retriever: any Retriever, backend: Backend, requests: Int = 10, tokenDelay: Double = 0.02,
                                     questions: [String] = questions) async throws -> StreamTimings {
        let label = backend == .extractive ? "extractive" : "remote(fake, \(Int(tokenDelay * 1000)) ms/token)"
        return try await withServer(retriever: retriever, backend: backend, tokenDelay: tokenDelay) { base in
            let client = RemoteBackend.sharedClient
            var first: [Double] = [], audio: [Double] = [], done: [Double] = [], errors = 0
            for i in 0..<requests {
                let start = MonotonicClock.now()
                do {
                    let r = try await client.execute(post(base + "/chat/stream", question: questions[i % questions.count] + " (\(i))"),
                                                     timeout: .seconds(120))
                    guard r.status.code == 200 else { errors += 1; continue }
                    var parser = SSEParser()
                    var gotToken = false, gotAudio = false
                    for try await buffer in r.body {
                        for m in parser.feed(buffer.readableBytesView) {
                            if m.event == "token" && !gotToken { gotToken = true; first.append(MonotonicClock.milliseconds(since: start)) }
                            if m.event == "audio" && !gotAudio && m.data.contains("\"kind\":\"answer\"") { gotAudio = true; audio.append(MonotonicClock.milliseconds(since: start)) }
                            if m.event == "done" { done.append(MonotonicClock.milliseconds(since: start)) }
                            if m.event == "error" { errors += 1 }
                        }
                    }
                } catch { errors += 1 }
            }
            return StreamTimings(firstToken: LatencyStats(name: "/chat/stream \(label) first token", samples: first, errors: errors),
                                 firstAnswerAudio: LatencyStats(name: "/chat/stream \(label) first answer audio", samples: audio, errors: errors),
                                 done: LatencyStats(name: "/chat/stream \(label) done", samples: done, errors: errors))
        }
    }

    /// All server figures as printable lines (the `ragchat bench` server section).
    public static func run(retriever: any Retriever, requests: Int = 30) async throws -> [String] {
        var lines: [String] = []
        lines.append((try await SpeechBench.realTimeFactor(voice: .frenchFemale)).description)
        lines.append((try await SpeechBench.realTimeFactor(voice: .frenchMale)).description)
        lines.append((try await chatLatency(retriever: retriever, backend: .extractive, requests: requests)).description)
        lines.append((try await chatLatency(retriever: retriever, backend: .extractive, requests: requests, audioCache: true)).description)
        lines.append((try await chatLatency(retriever: retriever, backend: .extractive, requests: requests, speak: false)).description)
        lines.append((try await chatLatency(retriever: retriever, backend: .remoteFake, requests: requests)).description)
        lines.append((try await chatLatency(retriever: retriever, backend: .remoteFake, requests: requests, speak: false)).description)
        lines.append((try await streamTimings(retriever: retriever, backend: .extractive, requests: max(3, requests / 3))).description)
        lines.append((try await streamTimings(retriever: retriever, backend: .remoteFake, requests: max(3, requests / 3))).description)
        return lines
    }
}
