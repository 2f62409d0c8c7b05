// Speech — espeak-ng synthesis to in-memory WAV, voices, text cleaning, audio cache.
// See ARCHITECTURE.md (targets and what each owns).

/// The one error type of the `Speech` module.
public enum SpeechError: Error, CustomStringConvertible, Sendable, Equatable {
    /// `espeak_Initialize` failed (data path missing or unreadable).
    case initializationFailed(dataPath: String?)
    /// `espeak_SetVoiceByName` rejected the voice name (e.g. `fr+m3`).
    case unknownVoice(String)
    /// `espeak_Synth` / `espeak_Synchronize` returned an error code.
    case synthesisFailed(voice: String, code: Int32)
    /// The text is empty once cleaned: nothing to speak.
    case emptyText
    /// A WAV buffer is malformed (too short, bad RIFF/WAVE/fmt/data chunk).
    case invalidWAV(String)
    /// Reading or writing the on-disk audio cache failed.
    case cacheIO(path: String, message: String)

    public var description: String {
        switch self {
        case .initializationFailed(let path):
            return "espeak-ng: initialisation failed (data path: \(path ?? "default"))"
        case .unknownVoice(let name):
            return "espeak-ng: unknown voice '\(name)' (try 'fr', 'fr+m3', 'fr+f3', see `espeak-ng --voices=fr`)"
        case .synthesisFailed(let voice, let code):
            return "espeak-ng: synthesis failed with voice '\(voice)' (error code \(code))"
        case .emptyText:
            return "speech: nothing to speak once the text is cleaned"
        case .invalidWAV(let why):
            return "WAV: \(why)"
        case .cacheIO(let path, let message):
            return "audio cache: \(path): \(message)"
        }
    }
}
