import Foundation

/// Turns any user string into a safe FTS5 query.
///
/// The string is split into words the way FTS5's `unicode61` tokenizer does (letters, digits and
/// combining marks; everything else separates), common French and English stop words are dropped
/// when other words remain, and each word becomes a quoted term: `"pate" OR "brisee"`. Quotes,
/// `*`, `NEAR(`, `AND`, column filters and SQL have no meaning left.
public enum FTSQuery {
    /// At most this many distinct terms are kept (the first ones).
    public static let maximumTerms = 32

    /// `nil` when the string has no word at all.
    public static func make(_ query: String) -> String? {
        let words = terms(query)
        guard !words.isEmpty else { return nil }
        let content = words.filter { !stopWords.contains(fold($0)) }
        let chosen = content.isEmpty ? words : content
        return chosen.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
            .joined(separator: " OR ")
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
            let properties = scalar.properties
            if properties.isAlphabetic || properties.numericType != nil
                || properties.generalCategory == .nonspacingMark || properties.generalCategory == .spacingMark {
                current.append(scalar)
            } else {
                flush()
            }
        }
        flush()
        return result
    }

    static func fold(_ word: String) -> String {
        word.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: nil)
    }

    /// Accent-folded, lower-case.
    static let stopWords: Set<String> = [
        // French
        "a", "au", "aux", "avec", "c", "ce", "ces", "cet", "cette", "d", "dans", "de", "des", "du",
        "elle", "elles", "en", "est", "et", "etre", "il", "ils", "j", "je", "l", "la", "le", "les",
        "leur", "leurs", "lui", "m", "ma", "mais", "me", "mes", "mon", "n", "ne", "nous", "on", "ou",
        "par", "pas", "pour", "qu", "que", "quel", "quelle", "quelles", "quels", "qui", "quoi", "s",
        "sa", "se", "ses", "son", "sont", "sur", "t", "ta", "te", "tes", "ton", "tu", "un", "une",
        "vos", "votre", "vous", "y", "comment", "quoi", "ont", "sont", "cela", "ca", "ceci",
        // English
        "the", "an", "and", "or", "of", "to", "in", "is", "are", "what", "how", "which", "for",
    ]
}
