// EncoderError — the one error type of the `Encoder` module.

import Tensors

/// Errors raised while loading or running a sentence encoder.
public enum EncoderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Model files are missing from the model directory (fetch them with `make models`).
    case modelFilesMissing(directory: String, files: [String])
    /// `config.json` (or another model description file) is unreadable or describes an
    /// architecture this encoder does not run.
    case invalidConfig(file: String, detail: String)
    /// A weight or tokenizer file is unreadable, truncated, malformed or has unexpected shapes.
    case weights(TensorsError)
    /// An input the encoder cannot embed (e.g. a token id outside the vocabulary).
    case invalidInput(detail: String)

    public var description: String {
        switch self {
        case let .modelFilesMissing(directory, files):
            return "\(directory): missing model file(s) \(files.joined(separator: ", ")); run `make models` to fetch them"
        case let .invalidConfig(file, detail):
            return "\(file): \(detail)"
        case let .weights(error):
            return error.description
        case let .invalidInput(detail):
            return "invalid encoder input: \(detail)"
        }
    }
}
