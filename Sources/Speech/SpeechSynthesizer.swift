import CEspeakNG
import Dispatch
import Foundation

/// Runs an actor's jobs on one dedicated serial dispatch queue, so blocking espeak-ng calls
/// never occupy a thread of Swift's cooperative pool.
final class DispatchSerialExecutor: SerialExecutor, @unchecked Sendable {
    private let queue: DispatchQueue
    init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedSerialExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
    func asUnownedSerialExecutor() -> UnownedSerialExecutor { UnownedSerialExecutor(ordinary: self) }
}

/// Where the synthesis callback appends samples. Only touched from inside `espeak_Synth`,
/// which only runs on the `SpeechSynthesizer` actor: the actor is the lock.
private final class SampleSink: @unchecked Sendable {
    var samples: [Int16] = []
    nonisolated(unsafe) static var current: SampleSink?
}

/// The C callback: no captured context; it reaches the sink of the running synthesis.
private func espeakSynthCallback(_ wav: UnsafeMutablePointer<Int16>?, _ count: Int32,
                                 _ events: UnsafeMutablePointer<espeak_EVENT>?) -> Int32 {
    guard let sink = SampleSink.current else { return 1 }   // 1 = abort
    if let wav, count > 0 { sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
    return 0
}

/// libespeak-ng in process. espeak-ng has global state and is not thread-safe, so there is
/// exactly one synthesizer per process (`shared()`); the actor serialises every call and runs
/// on its own thread.
public actor SpeechSynthesizer {
    /// Output sample rate reported by `espeak_Initialize` (22,050 Hz with the standard data).
    public nonisolated let sampleRate: Int
    private let executor: DispatchSerialExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var instance: Result<SpeechSynthesizer, SpeechError>?

    /// The process-wide synthesizer; initialises espeak-ng on first use.
    /// - Parameter dataPath: the espeak-ng data directory (nil: the system default).
    public static func shared(dataPath: String? = nil) throws -> SpeechSynthesizer {
        lock.lock(); defer { lock.unlock() }
        do {
            if let state = instance { return try state.get() }
            let executor = DispatchSerialExecutor(label: "ragchat.espeak-ng")
            let options = Int32(espeakINITIALIZE_DONT_EXIT)   // never exit() on missing data
            let rate: Int32 = dataPath.map { espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, $0, options) }
                ?? espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, options)
            let result: Result<SpeechSynthesizer, SpeechError>
            if rate <= 0 {
                result = .failure(.initializationFailed(dataPath: dataPath))
            } else {
                espeak_SetSynthCallback(espeakSynthCallback)
                result = .success(SpeechSynthesizer(sampleRate: Int(rate), executor: executor))
            }
            instance = result
            return try result.get()
        }
    }

    private init(sampleRate: Int, executor: DispatchSerialExecutor) {
        self.sampleRate = sampleRate
        self.executor = executor
    }

    private var currentVoice: String?

    /// Synthesises `text` (already cleaned; UTF-8, not SSML) as 16-bit mono samples.
    /// - Parameters:
    ///   - voice: an espeak-ng voice name, with an optional variant (`fr+m3`, `fr+f3`).
    ///   - rate: words per minute, clamped to 80...450 (espeak's normal is 175).
    public func samples(for text: String, voice: String, rate: Int) throws -> [Int16] {
        if currentVoice != voice {
            let err = espeak_SetVoiceByName(voice)
            guard err == EE_OK else { currentVoice = nil; throw SpeechError.unknownVoice(voice) }
            currentVoice = voice
        }
        espeak_SetParameter(espeakRATE, Int32(min(max(rate, 80), 450)), 0)
        let sink = SampleSink()
        SampleSink.current = sink
        defer { SampleSink.current = nil }
        let bytes = Array(text.utf8) + [0]
        let err = bytes.withUnsafeBufferPointer { buf in
            espeak_Synth(buf.baseAddress, buf.count, 0, POS_CHARACTER, 0,
                         UInt32(espeakCHARS_UTF8 | espeakENDPAUSE), nil, nil)
        }
        guard err == EE_OK else { throw SpeechError.synthesisFailed(voice: voice, code: Int32(err.rawValue)) }
        let sync = espeak_Synchronize()
        guard sync == EE_OK else { throw SpeechError.synthesisFailed(voice: voice, code: Int32(sync.rawValue)) }
        return sink.samples
    }

    /// Synthesises `text` into a complete WAV file in memory.
    public func wav(for text: String, voice: String, rate: Int) throws -> Data {
        WAV.encode(samples: try samples(for: text, voice: voice, rate: rate), sampleRate: sampleRate)
    }
}
