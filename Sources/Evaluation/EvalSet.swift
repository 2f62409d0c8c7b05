import Foundation
import Index
import TextAnalysis

/// What a question of an evaluation set tests.
public enum QuestionClass: String, Codable, Sendable, CaseIterable {
    /// Asked with the answering passage's own key words.
    case lookup
    /// Asked in other words than the passage's, as people ask.
    case paraphrase
    /// Needs two neighbouring sentences or items of the documents.
    case synthesis
    /// Not answered by the documents: the right answer is to decline.
    case offtopic
}

/// Where an answer is: a file (and PDF page) of the corpus and a short verbatim extract of it.
public struct Evidence: Codable, Sendable, Hashable {
    /// Path relative to the corpus folder.
    public var file: String
    /// 1-based PDF page; `nil` for text files.
    public var page: Int?
    /// A verbatim extract (10–60 characters) of the answering passage.
    public var expected: String

    public init(file: String, page: Int? = nil, expected: String) {
        self.file = file
        self.page = page
        self.expected = expected
    }
}

/// One question of an evaluation set (`eval/*.json`).
public struct EvalQuestion: Codable, Sendable, Hashable {
    public var id: String
    public var question: String
    public var questionClass: QuestionClass
    public var file: String?
    public var page: Int?
    public var expected: String?
    /// The neighbouring sentence a synthesis question also needs.
    public var expected2: String?
    /// Other places that answer the question as well.
    public var alt: [Evidence]?
    /// The key facts of a correct answer: every regex must match the answer (case and accents
    /// ignored on both sides).
    public var answer: [String]?
    /// A correct one-sentence answer written with the question.
    public var reference: String?

    enum CodingKeys: String, CodingKey {
        case id, question, questionClass = "class", file, page, expected, expected2, alt, answer, reference
    }

    public var isCovered: Bool { questionClass != .offtopic }

    /// Every place that answers the question.
    public var evidence: [Evidence] {
        var result: [Evidence] = []
        if let file, let expected { result.append(Evidence(file: file, page: page, expected: expected)) }
        if let file, let expected2 { result.append(Evidence(file: file, page: page, expected: expected2)) }
        return result + (alt ?? [])
    }

    /// The hit answers the question: a chunk of an evidence's file (and page) whose text holds the
    /// evidence's extract (compared folded, white space collapsed: extraction may change case of
    /// ligatures, line breaks and spacing).
    public func isAnswered(by hit: SearchHit) -> Bool {
        let text = EvalText.normalise(hit.text)
        return evidence.contains { e in
            hit.file == e.file && (e.page == nil || hit.page == e.page) && text.contains(EvalText.normalise(e.expected))
        }
    }

    /// Does an answer text state the key facts (every `answer` regex matches)? `false` without keys.
    public func isCorrect(answer text: String) -> Bool {
        guard let keys = answer, !keys.isEmpty else { return false }
        let folded = FrenchText.fold(text)
        return keys.allSatisfy { pattern in
            // Accents stripped but case kept: lower-casing a pattern would turn `\S` into `\s`.
            guard let regex = try? NSRegularExpression(pattern: FrenchText.stripDiacritics(pattern), options: [.caseInsensitive]) else {
                return false
            }
            return regex.firstMatch(in: folded, range: NSRange(folded.startIndex..., in: folded)) != nil
        }
    }
}

/// A question set over a corpus folder.
public struct EvalSet: Codable, Sendable {
    public var name: String
    /// The corpus folder, relative to the repository root (`make eval-data` lays it out).
    public var corpus: String
    /// Versions of the packages the corpus was made from.
    public var sources: [String: String]?
    public var questions: [EvalQuestion]

    public var covered: [EvalQuestion] { questions.filter(\.isCovered) }
    public var offTopic: [EvalQuestion] { questions.filter { !$0.isCovered } }

    /// Reads a set from a file, or by name from `eval/NAME.json` under `root`.
    public static func load(_ nameOrPath: String, root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        throws -> EvalSet {
        let url = nameOrPath.hasSuffix(".json")
            ? URL(fileURLWithPath: nameOrPath, relativeTo: root)
            : root.appendingPathComponent("eval/\(nameOrPath).json")
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EvalError("no question set at \(url.path) (sets: eval/*.json)")
        }
        do {
            return try JSONDecoder().decode(EvalSet.self, from: data)
        } catch {
            throw EvalError("\(url.path): not a question set: \(error)")
        }
    }

    /// The corpus folder as a URL.
    public func corpusURL(root: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) -> URL {
        corpus.hasPrefix("/") ? URL(fileURLWithPath: corpus) : root.appendingPathComponent(corpus)
    }
}

public struct EvalError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum EvalText {
    /// Folded, NFC, white space collapsed, typographic apostrophes and hyphenation line breaks evened out.
    static func normalise(_ text: String) -> String {
        FrenchText.fold(text).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
