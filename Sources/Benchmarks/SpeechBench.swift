import Foundation
import Speech
import Tensors

/// TTS real-time factor: synthesis time / audio duration (lower is faster; < 1 is faster than real time).
public struct SpeechBenchResult: Sendable, CustomStringConvertible {
    public var voice: String
    public var sentences: Int
    public var audioSeconds: Double
    public var synthesisSeconds: Double
    public var realTimeFactor: Double { synthesisSeconds / max(audioSeconds, 1e-9) }
    public var description: String {
        "tts voice=\(voice) " + String(format: "sentences=%d audio=%.2fs synthesis=%.3fs rtf=%.4f",
                                         sentences, audioSeconds, synthesisSeconds, realTimeFactor)
    }
}

public enum SpeechBench {
    /// French sentences of a typical answer length.
    public static let sampleSentences = [
        "La tarte aux pommes est un dessert traditionnel préparé avec une pâte brisée et des pommes.",
        "Pour la réussir, choisissez des pommes acidulées et ne coupez pas les tranches trop épaisses.",
        "Il existe de nombreuses variantes, comme la tarte Tatin, la tarte normande ou la tarte alsacienne.",
        "Faites cuire environ quarante minutes dans un four préchauffé à cent quatre-vingts degrés.",
    ]

    /// Synthesises each sentence `repeats` times with `voice` directly (no cache) and returns the
    /// real-time factor.
    public static func realTimeFactor(voice: Voice = .frenchFemale, sentences: [String] = sampleSentences,
                                      repeats: Int = 3, dataPath: String? = nil) async throws -> SpeechBenchResult {
        let synth = try SpeechSynthesizer.shared(dataPath: dataPath)
        _ = try await synth.samples(for: "Bonjour.", voice: voice.name, rate: voice.rate)   // warm-up
        var audio = 0.0, elapsed = 0.0, count = 0
        for _ in 0..<max(1, repeats) {
            for s in sentences {
                let start = MonotonicClock.now()
                let samples = try await synth.samples(for: SpeechText.clean(s), voice: voice.name, rate: voice.rate)
                elapsed += MonotonicClock.seconds(since: start)
                audio += Double(samples.count) / Double(synth.sampleRate)
                count += 1
            }
        }
        return SpeechBenchResult(voice: voice.description, sentences: count, audioSeconds: audio, synthesisSeconds: elapsed)
    }
}
