import Benchmarks
import Foundation
import Speech
import Testing

@Suite struct WAVTests {
    @Test func encodeParseRoundTrip() throws {
        let samples: [Int16] = [0, 1, -1, 32767, -32768, 1234]
        let wav = WAV.encode(samples: samples, sampleRate: 22_050)
        #expect(wav.count == 44 + 12)
        #expect(String(decoding: wav.prefix(4), as: UTF8.self) == "RIFF")
        let info = try WAV.parse(wav)
        #expect(info == WAV.Info(format: 1, channels: 1, sampleRate: 22_050, bitsPerSample: 16, dataBytes: 12, dataOffset: 44))
        #expect(try WAV.samples(wav) == samples)
    }

    @Test func rejectsGarbage() {
        #expect(throws: SpeechError.self) { try WAV.parse(Data("not a wav file at all, definitely not one, no".utf8)) }
        var wav = WAV.encode(samples: [1, 2, 3], sampleRate: 8000)
        wav[4] = 0xFF   // wrong RIFF size
        #expect(throws: SpeechError.self) { try WAV.parse(wav) }
    }
}

@Suite struct SpeechTextTests {
    @Test func dropsCitations() {
        #expect(SpeechText.clean("Les pommes acidulées [1] sont meilleures [1, 2].") == "Les pommes acidulées sont meilleures.")
        #expect(SpeechText.clean("Voir [2][3] et [1-3].") == "Voir et.")
    }

    @Test func dropsMarkdown() {
        let text = """
        # Recette
        **Ingrédients** :
        - 4 pommes
        * 200 g de _farine_
        1. Préchauffer le four.
        """
        #expect(SpeechText.clean(text) == "Recette. Ingrédients : 4 pommes. 200 g de farine. 1. Préchauffer le four.")
    }

    @Test func dropsURLsAndKeepsLinkText() {
        #expect(SpeechText.clean("Voir https://example.com/tarte?x=1 ou www.example.org.") == "Voir ou.")
        #expect(SpeechText.clean("Lire [la recette](https://example.com/r) ici.") == "Lire la recette ici.")
    }

    @Test func dropsEmoji() {
        #expect(SpeechText.clean("Bon appétit 🍎🥧 ! 👍🏽") == "Bon appétit !")
        #expect(SpeechText.clean("3 œufs, 180 °C, 25 %") == "3 œufs, 180 °C, 25 %")
    }

    @Test func emptyWhenNothingSpeakable() {
        #expect(SpeechText.clean("[1] 🍎 https://x.y") == "")
    }
}

@Suite(.serialized) struct SynthesisTests {
    @Test func frenchVoicesProduceValidDistinctWAV() async throws {
        let synth = try SpeechSynthesizer.shared()
        let text = "Comment faire une tarte aux pommes ?"
        let male = try await synth.wav(for: text, voice: Voice.frenchMale.name, rate: 175)
        let female = try await synth.wav(for: text, voice: Voice.frenchFemale.name, rate: 175)
        for wav in [male, female] {
            let info = try WAV.parse(wav)
            #expect(info.format == 1 && info.channels == 1 && info.bitsPerSample == 16)
            #expect(info.sampleRate == synth.sampleRate)
            #expect(info.sampleRate == 22_050)
            #expect(info.duration > 0.3)
            let samples = try WAV.samples(wav)
            #expect(samples.contains { abs(Int($0)) > 1000 }, "audible signal")
        }
        #expect(male != female)
        // The female variant speaks higher: compare the median pitch of voiced frames.
        let f0Male = try medianPitch(WAV.samples(male), rate: synth.sampleRate)
        let f0Female = try medianPitch(WAV.samples(female), rate: synth.sampleRate)
        #expect(f0Female > f0Male * 1.3, "pitch male \(f0Male) Hz, female \(f0Female) Hz")
    }

    /// Median autocorrelation pitch (70–400 Hz) over loud 40 ms frames.
    func medianPitch(_ samples: [Int16], rate: Int) -> Double {
        let frame = rate * 40 / 1000
        let x = samples.map { Double($0) }
        var pitches: [Double] = []
        var start = 0
        while start + frame <= x.count {
            let w = Array(x[start..<start + frame])
            let energy = w.reduce(0) { $0 + $1 * $1 } / Double(frame)
            if energy > 1e6 {
                var bestLag = 0, best = 0.0
                for lag in (rate / 400)...(rate / 70) {
                    var c = 0.0
                    for i in 0..<(frame - lag) { c += w[i] * w[i + lag] }
                    if c > best { best = c; bestLag = lag }
                }
                if bestLag > 0 { pitches.append(Double(rate) / Double(bestLag)) }
            }
            start += frame
        }
        pitches.sort()
        return pitches.isEmpty ? 0 : pitches[pitches.count / 2]
    }

    @Test func rateChangesDuration() async throws {
        let synth = try SpeechSynthesizer.shared()
        let text = "La tarte aux pommes est un dessert traditionnel."
        let slow = try WAV.parse(try await synth.wav(for: text, voice: "fr", rate: 120)).duration
        let fast = try WAV.parse(try await synth.wav(for: text, voice: "fr", rate: 300)).duration
        #expect(fast < slow)
    }

    @Test func unknownVoiceThrows() async throws {
        let synth = try SpeechSynthesizer.shared()
        await #expect(throws: SpeechError.unknownVoice("zz-no-such-voice")) {
            _ = try await synth.wav(for: "Bonjour", voice: "zz-no-such-voice", rate: 175)
        }
        // The synthesizer still works afterwards.
        let ok = try await synth.wav(for: "Bonjour", voice: "fr", rate: 175)
        #expect(try WAV.parse(ok).duration > 0.1)
    }

    @Test func concurrentCallsAreSerialised() async throws {
        let synth = try SpeechSynthesizer.shared()
        let texts = (1...6).map { "Phrase numéro \($0) de la recette." }
        let wavs = try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            for (i, t) in texts.enumerated() {
                group.addTask { (i, try await synth.wav(for: t, voice: i % 2 == 0 ? "fr+m3" : "fr+f3", rate: 175)) }
            }
            var out = [Int: Data]()
            for try await (i, d) in group { out[i] = d }
            return out
        }
        // espeak-ng varies a few samples from run to run, so compare durations: interleaved
        // syntheses would put two sentences in one buffer and none in another.
        for (i, t) in texts.enumerated() {
            let again = try await synth.wav(for: t, voice: i % 2 == 0 ? "fr+m3" : "fr+f3", rate: 175)
            let a = try WAV.parse(try #require(wavs[i])).duration, b = try WAV.parse(again).duration
            #expect(abs(a - b) / b < 0.1, "sentence \(i): \(a) s concurrently vs \(b) s alone")
        }
    }

    @Test func speakerCachesInMemoryAndOnDisk() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ragchat-audio-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = SpeechConfiguration(cacheDirectory: dir, memoryCacheBytes: 8 << 20)
        let speaker = try Speaker(configuration: config)
        let a = try await speaker.speakAnswer("Les pommes **acidulées** [1] sont les meilleures.")
        let b = try await speaker.speakAnswer("Les pommes acidulées sont les meilleures.")   // same once cleaned
        #expect(a == b)
        var stats = await speaker.statistics()
        #expect(stats.syntheses == 1 && stats.memoryHits == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".wav") }
        #expect(files.count == 1)
        // A new speaker (empty memory) finds the disk copy.
        let other = try Speaker(configuration: config)
        let c = try await other.speakAnswer("Les pommes acidulées sont les meilleures.")
        #expect(c == a)
        stats = await other.statistics()
        #expect(stats.diskHits == 1 && stats.syntheses == 0)
        // Another voice is another entry.
        let q = try await speaker.speakQuestion("Les pommes acidulées sont les meilleures.")
        #expect(q != a)
        await #expect(throws: SpeechError.emptyText) { _ = try await speaker.speakAnswer("[1] 🍎") }
    }

    @Test func memoryCacheIsBounded() async throws {
        let config = SpeechConfiguration(cacheDirectory: nil, memoryCacheBytes: 200_000)
        let speaker = try Speaker(configuration: config)
        for i in 1...6 { _ = try await speaker.speakAnswer("Phrase de test numéro \(i) pour le cache.") }
        let stats = await speaker.statistics()
        #expect(stats.memoryBytes <= 200_000)
        #expect(stats.memoryEntries < 6)
    }

    @Test func cacheKeyDependsOnTextVoiceRate() {
        let k = Speaker.cacheKey(text: "a", voice: Voice(name: "fr", rate: 175))
        #expect(k.count == 64)
        #expect(k != Speaker.cacheKey(text: "b", voice: Voice(name: "fr", rate: 175)))
        #expect(k != Speaker.cacheKey(text: "a", voice: Voice(name: "fr+f3", rate: 175)))
        #expect(k != Speaker.cacheKey(text: "a", voice: Voice(name: "fr", rate: 176)))
        // SHA-256 (as before, so existing cache files stay valid) of name, rate and text.
        #expect(Speaker.cacheKey(text: "abc", voice: Voice(name: "fr", rate: 175)) == "b3d369a70695efabf0ecc36a3fc51b0b1429320fc62137d63acfe52bd3b5681d")
    }

    @Test func realTimeFactorBench() async throws {
        let r = try await SpeechBench.realTimeFactor(sentences: ["Bonjour, ceci est un test."], repeats: 1)
        #expect(r.audioSeconds > 0.3)
        #expect(r.realTimeFactor > 0)
    }
}

@Suite(.serialized) struct DiskCacheTests {
    @Test func diskCacheIsPruned() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ragchat-prune-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // Old files, 300 KB in all.
        for i in 0..<3 {
            let f = dir.appendingPathComponent("old\(i).wav")
            try Data(count: 100_000).write(to: f)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: f.path)
        }
        let speaker = try Speaker(configuration: SpeechConfiguration(cacheDirectory: dir, memoryCacheBytes: 0, diskCacheBytes: 200_000))
        _ = try await speaker.speakAnswer("Une phrase pour remplir le cache.")
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left.filter { $0.hasPrefix("old") }.count <= 1)
        #expect(left.contains { !$0.hasPrefix("old") })
    }
}
