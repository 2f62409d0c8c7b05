// Benchmark of the decoder engine: load time, prefill tok/s (a 512-token prompt), decode tok/s
// (128 greedy tokens), peak RSS. The lead wires it into `ragchat bench`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Decoder
import Tensors
import Tokenizers

public enum DecoderBench {
    public struct Result: Sendable, CustomStringConvertible {
        public var model: String
        public var threads: Int
        public var loadSeconds: Double
        public var prefillTokens: Int
        public var prefillTokensPerSecond: Double
        public var decodeTokens: Int
        public var decodeTokensPerSecond: Double
        public var peakRSSMiB: Double
        /// Process CPU seconds spent in prefill and decode (all threads): on a busy machine,
        /// tokens per CPU-second × threads estimates the figure on an idle one.
        public var prefillCPUSeconds: Double
        public var decodeCPUSeconds: Double
        /// Seconds of one pass verifying k draft tokens at the end of the decode (`evaluateEach`),
        /// per k asked for: what a speculative step costs against a one-token step.
        public var verifySeconds: [(tokens: Int, seconds: Double)] = []

        public var description: String {
            func f(_ v: Double, _ d: Int = 1) -> String {
                let p = pow(10.0, Double(d))
                return String((v * p).rounded() / p)
            }
            return "\(model): threads \(threads), load \(f(loadSeconds, 3)) s, "
                + "prefill \(prefillTokens) tokens \(f(prefillTokensPerSecond)) tok/s, "
                + "decode \(decodeTokens) tokens \(f(decodeTokensPerSecond)) tok/s, peak RSS \(f(peakRSSMiB)) MiB; "
                + "per CPU-second: prefill \(f(Double(prefillTokens) / prefillCPUSeconds)) tok, "
                + "decode \(f(Double(decodeTokens) / decodeCPUSeconds)) tok"
                + verifySeconds.map { v in
                    "\n  one pass over \(v.tokens) tokens in decode order: \(f(v.seconds * 1000, 2)) ms = "
                        + "\(f(v.seconds * decodeTokensPerSecond, 2))× a one-token step"
                }.joined()
        }
    }

    /// Peak resident set size of this process (VmHWM), in MiB.
    public static func peakRSSMiB() -> Double {
        guard let f = fopen("/proc/self/status", "r") else { return 0 }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, 256, f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("VmHWM:") {
                let kb = s.split(separator: " ").compactMap { Double($0) }.first ?? 0
                return kb / 1024
            }
        }
        return 0
    }

    /// Loads `path`, runs a `promptTokens`-token prompt (synthetic ids), or `promptText` tokenized by
    /// the model's own tokenizer (a BOS first, as llama.cpp adds it), then `decodeTokens` greedy steps.
    public static func run(modelPath path: String, promptTokens: Int = 512, promptText: String? = nil,
                           decodeTokens: Int = 128, threads: Int = ThreadPool.onlineCPUs, mode: PrefillMode = .quantized,
                           verifyTokens: [Int] = []) throws -> Result {
        let t0 = MonotonicClock.now()
        let pool = ThreadPool.sized(threads)
        let file = try GGUFFile(path: path)
        var textTokens: [Int]?
        if let promptText {
            textTokens = try GGUFTokenizerLoader.load(file).tokenize(promptText, addBOS: true, parseSpecial: false).map(Int.init)
        }
        let promptLength = textTokens?.count ?? promptTokens
        let model = try LanguageModel(file: file, contextLength: promptLength + decodeTokens + 8 + (verifyTokens.max() ?? 0),
                                      maxBatch: promptLength, pool: pool, options: ComputeOptions(prefillMode: mode))
        let st = model.makeState()
        let t1 = MonotonicClock.now()
        let v = model.config.vocabSize
        var prompt = [model.config.bosTokenID ?? 1]
        while prompt.count < promptTokens { prompt.append(200 + (prompt.count * 7919) % max(1, min(v, 30_000) - 300)) }
        if let textTokens { prompt = textTokens }
        // Warm-up (page in the weights) on a separate state.
        let warm = model.makeState()
        try model.evaluate(Array(prompt[0..<min(16, prompt.count)]), state: warm)
        try model.evaluate([prompt[1]], state: warm)
        let t2 = MonotonicClock.now(), c2 = processCPUSeconds()
        var logits = try model.evaluate(prompt, state: st)
        let t3 = MonotonicClock.now(), c3 = processCPUSeconds()
        for _ in 0..<decodeTokens {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            logits = try model.evaluate([best], state: st)
        }
        let t4 = MonotonicClock.now(), c4 = processCPUSeconds()
        var verify: [(tokens: Int, seconds: Double)] = []
        for k in verifyTokens where k > 0 && st.position + k <= model.maxContext {
            let draft = (0..<k).map { 200 + ($0 * 7919) % max(1, min(v, 30_000) - 300) }
            let start = st.position, rounds = 8
            let t5 = MonotonicClock.now()
            for _ in 0..<rounds {
                try model.evaluateEach(draft, state: st)
                st.truncate(to: start)
            }
            verify.append((k, (MonotonicClock.now() - t5) / Double(rounds)))
        }
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return Result(model: name, threads: pool.threadCount, loadSeconds: t1 - t0, prefillTokens: prompt.count,
                      prefillTokensPerSecond: Double(prompt.count) / (t3 - t2), decodeTokens: decodeTokens,
                      decodeTokensPerSecond: Double(decodeTokens) / (t4 - t3), peakRSSMiB: peakRSSMiB(),
                      prefillCPUSeconds: c3 - c2, decodeCPUSeconds: c4 - c3, verifySeconds: verify)
    }
}
