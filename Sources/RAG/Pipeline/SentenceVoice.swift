import Foundation
import Speech
import Tensors
import TextAnalysis

/// The spoken side of a streamed answer: the question's clip is announced once the sources are
/// out, then each answer sentence is spoken, stored and announced as soon as it is complete (one
/// consumer, in order), so that the user hears the answer while it is still being written. At the
/// end the sentences' WAVs are joined into the whole answer's clip.
final class SentenceVoice {
    private let pipeline: RAGPipeline
    private var splitter = SentenceSplitter()
    private let sentences: AsyncStream<String>.Continuation
    private let questionAnnounced: Task<SpokenClip?, Never>
    private let speaking: Task<[Data], Never>

    init(pipeline: RAGPipeline, events out: RAGPipeline.Events, question: String, questionAudio: Task<SpokenClip?, Never>,
         start: Double, timings: TimingBox) {
        self.pipeline = pipeline
        let questionAnnounced = Task { () -> SpokenClip? in
            let q = await questionAudio.value
            if let q { out.yield(.audio(AudioClip(kind: .question, index: 0, url: pipeline.url(q.id), text: question))) }
            return q
        }
        let (stream, sink) = AsyncStream<String>.makeStream()
        self.questionAnnounced = questionAnnounced
        self.sentences = sink
        self.speaking = Task {
            _ = await questionAnnounced.value
            var wavs: [Data] = []
            var index = 0
            for await sentence in stream {
                guard let clip = await pipeline.speakAndStore(sentence, question: false) else { continue }
                await timings.add("speak_answer", clip.ms)
                if index == 0 { await timings.set("first_audio", MonotonicClock.milliseconds(since: start)) }
                out.yield(.audio(AudioClip(kind: .answer, index: index, url: pipeline.url(clip.id), text: sentence)))
                wavs.append(clip.wav)
                index += 1
            }
            return wavs
        }
    }

    /// The answer's next piece; `whole`: one complete, checked sentence (spoken as is).
    func feed(_ piece: String, whole: Bool) {
        if whole {
            let sentence = piece.trimmingCharacters(in: .whitespacesAndNewlines)
            if !sentence.isEmpty { sentences.yield(sentence) }
        } else {
            for s in splitter.feed(piece) { sentences.yield(s) }
        }
    }

    /// Speaks what is left, waits for every clip, and stores the whole answer's WAV: its id.
    func finish() async -> String? {
        if let rest = splitter.finish() { sentences.yield(rest) }
        sentences.finish()
        let wavs = await speaking.value
        guard !wavs.isEmpty, let joined = try? WAV.join(wavs) else { return nil }
        return await pipeline.audioStore.put(joined)
    }

    /// The question's clip, once announced.
    func questionClip() async -> SpokenClip? { await questionAnnounced.value }

    /// Stops speaking (the answer failed or its consumer left).
    func cancel() {
        questionAnnounced.cancel()
        speaking.cancel()
        sentences.finish()
    }
}
