import Foundation
import TextAnalysis

/// Turns any user string into a safe FTS5 query over the chunks' text (`chunks_fts`), used to
/// highlight the matched words in a hit's snippet (ranking uses `KeywordAnalyzer`'s terms).
///
/// The string is split into words the way FTS5's `unicode61` tokenizer does (letters, digits and
/// combining marks; everything else separates), common French and English stop words are dropped
/// when other words remain, and each word becomes a quoted term, plus a quoted prefix of its
/// light stem when it has one (`stem`): `"pate" OR "brisee" OR "bris" *`. Quotes, `*`, `NEAR(`,
/// `AND`, column filters and SQL from the user have no meaning left.
public enum FTSQuery {
    /// At most this many distinct terms are kept (the first ones).
    public static let maximumTerms = 32

    /// One content word of a query.
    public struct Term: Sendable, Hashable {
        /// As typed, lower-cased.
        public var word: String
        /// Lower-cased without diacritics, as the FTS5 tokenizer stores it.
        public var folded: String
        /// Light stem (folded), matched as a prefix; `nil` when the word has none.
        public var stem: String?
    }

    /// `nil` when the string has no word at all.
    public static func make(_ query: String) -> String? {
        expression(parse(query))
    }

    /// The distinct words of `query`, stop words dropped when other words remain.
    public static func parse(_ query: String) -> [Term] {
        let words = terms(query)
        let content = words.filter { !stopWords.contains(fold($0)) }
        var seen: Set<String> = []
        return (content.isEmpty ? words : content).compactMap { word in
            let folded = fold(word)
            guard seen.insert(folded).inserted else { return nil }
            return Term(word: word, folded: folded, stem: stem(word))
        }
    }

    /// `"word"` for each term, or `"word" OR "stem" *` when it has a stem, all OR-ed; `nil` for
    /// no term.
    public static func expression(_ terms: [Term]) -> String? {
        var seen: Set<String> = []
        var parts: [String] = []
        for term in terms {
            // The exact word and its stem's prefix: an exact match counts twice.
            let quoted = "\"" + term.word.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            if seen.insert(quoted).inserted { parts.append(quoted) }
            if let stem = term.stem {
                let prefix = "\"" + stem + "\" *"
                if seen.insert(prefix).inserted { parts.append(prefix) }
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: " OR ")
    }

    /// A light French stem used as a prefix (`"pomme" *` finds pomme, pommes): plural `s`/`x`,
    /// feminine and participle endings (`e`, `é`, `ée`, `és`, `ées`), infinitive `er`/`ir`.
    /// `nil` when the word is short or has no such ending (it is then matched exactly).
    static func stem(_ word: String) -> String? {
        let folded = fold(word)
        guard folded.count >= 5, folded.unicodeScalars.allSatisfy({ $0.isASCII && $0.properties.isAlphabetic }) else {
            return nil
        }
        for suffix in ["ees", "es", "ee", "er", "ir", "s", "x", "e"] where folded.hasSuffix(suffix) {
            return folded.count - suffix.count >= 4 ? String(folded.dropLast(suffix.count)) : nil
        }
        return nil
    }

    /// Distinct lower-cased words, in order of first appearance.
    public static func terms(_ query: String) -> [String] {
        var result: [String] = []
        var seen: Set<String> = []
        var current = String.UnicodeScalarView()
        func flush() {
            guard !current.isEmpty else { return }
            let word = String(current).lowercased()
            current = String.UnicodeScalarView()
            if result.count < maximumTerms, seen.insert(fold(word)).inserted { result.append(word) }
        }
        for scalar in query.precomposedStringWithCanonicalMapping.unicodeScalars {
            if FrenchText.isWordScalar(scalar) {
                current.append(scalar)
            } else {
                flush()
            }
        }
        flush()
        return result
    }

    static func fold(_ word: String) -> String { FrenchText.fold(word) }

    static var stopWords: Set<String> { FrenchText.stopWords }
}
