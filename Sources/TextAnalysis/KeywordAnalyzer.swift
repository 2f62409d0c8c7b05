import CStemmer
import Foundation
import Synchronization

/// Snowball's French stemmer (libstemmer): "supprimer", "supprime", "supprimés" → "supprim".
/// A stemmer object is not thread-safe, so each call borrows one from a small pool.
public final class FrenchStemmer: Sendable {
    public static let shared = FrenchStemmer()

    /// A libstemmer handle; only used by one thread at a time (borrowed from the pool).
    private struct Handle: @unchecked Sendable { let pointer: OpaquePointer }
    private let pool = Mutex<[Handle]>([])

    private init() {}

    /// The stem of a lower-case word (accents kept: the algorithm reads them). Words longer than
    /// 48 bytes, or when libstemmer fails, come back unchanged.
    public func stem(_ word: String) -> String {
        let utf8 = Array(word.utf8)
        guard !utf8.isEmpty, utf8.count <= 48 else { return word }
        let borrowed = pool.withLock { $0.popLast() }
        guard let handle = borrowed ?? sb_stemmer_new("french", "UTF_8").map(Handle.init) else { return word }
        defer { pool.withLock { $0.append(handle) } }
        guard let out = sb_stemmer_stem(handle.pointer, utf8, Int32(utf8.count)) else { return word }
        let length = Int(sb_stemmer_length(handle.pointer))
        return String(decoding: UnsafeBufferPointer(start: out, count: length), as: UTF8.self)
    }
}

/// The terms keyword search indexes and queries: the same analysis on both sides, so a question's
/// word forms meet the document's ("fichiers" ↔ "fichier", "supprimer" ↔ "supprimé").
///
/// Text is cut at white space into spans; a span's words are its runs of letters and digits.
/// Each word that is not a stop word gives its Snowball stem, folded (`stemTerm`: "systeme"
/// typed without accents meets "système").
/// Elided articles (`l'`, `d'`, `qu'`) are dropped. A span that is an identifier — an option
/// (`-h`, `--preserve-root`), a path (`/etc/apt/sources.list`), a dotted or hyphenated name
/// (`apt-get`, `sources.list`, `2.24.1`) — also gives one exact term for the whole span,
/// separators written `_` (`__preserve_root`), so exact options and names are found as such
/// and rank above the documents that merely contain their parts.
public enum KeywordAnalyzer {
    /// Bump when the analysis changes: indexes store their terms with this version and are
    /// re-analysed when it differs.
    public static let version = "fr-snowball-6"

    /// Characters dropped at the start of a span.
    private static let leading: Set<Unicode.Scalar> = ["(", "[", "{", "«", "\"", "'", "`", "‘", "“", "<", "‹", "¡", "¿"]
    /// Characters dropped at the end of a span.
    private static let trailing: Set<Unicode.Scalar> = [")", "]", "}", "»", "\"", "'", "`", "’", "”", ">", "›", ",", ";",
                                                        ":", ".", "!", "?", "…"]
    /// Separators that make a span an identifier when they join two words.
    private static let connectors: Set<Unicode.Scalar> = ["-", ".", "_", "/", ":", "+", "=", "@", "~", "\\"]
    private static let apostrophes: Set<Unicode.Scalar> = ["'", "’", "ʼ"]
    private static let openingQuotes: Set<Unicode.Scalar> = ["«", "\"", "“", "‹"]
    private static let closingQuotes: Set<Unicode.Scalar> = ["»", "\"", "”", "›"]

    /// Index terms of a text, in order, with repeats (BM25 counts them).
    public static func terms(_ text: String) -> [String] {
        var out: [String] = []
        out.reserveCapacity(text.utf8.count / 6)
        var span = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !span.isEmpty { analyse(span, into: &out); span = String.UnicodeScalarView() }
            } else {
                span.append(scalar)
            }
        }
        if !span.isEmpty { analyse(span, into: &out) }
        return out
    }

    /// Distinct query terms, in order of first appearance, at most `limit`. Stop words are kept
    /// when the query has nothing else.
    public static func queryTerms(_ query: String, limit: Int = 32) -> [String] {
        var seen: Set<String> = []
        var result: [String] = []
        var all = terms(query)
        if all.isEmpty { all = FrenchText.words(query).filter { $0.count > 1 || $0.first?.isNumber == true } }
        for term in all where seen.insert(term).inserted {
            result.append(term)
            if result.count == limit { break }
        }
        return result
    }

    /// A word of a question written as a name, and its index terms.
    public struct Name: Sendable, Hashable {
        /// As written, without punctuation or an elided article ("Australie" from "l'Australie ?").
        public var surface: String
        /// `terms(surface)`: what the index would hold if a document mentioned it.
        public var terms: [String]
    }

    /// The words of a question that name something: written with a capital letter past the first
    /// word of a sentence ("Fedora", "iPhone", "VBA", "l'Australie"), or, given a list of the
    /// language's words, no word of it ("dnf", "regedit", "pacman"); with no digit (versions, times
    /// and quantities are not names) and at least two letters. Words in quotation marks are text
    /// the asker wants to write or find ("écrire « Allegro » au-dessus de la portée"), not what
    /// the question is about. A text with no lower-case letter at all (typed in capitals) has
    /// no capitalised names. Given `unknownTerms`, only words whose terms are all among them are
    /// considered (and only those are looked up in `words`).
    public static func names(in text: String, words: WordList? = nil, unknownTerms: Set<String>? = nil) -> [Name] {
        let capitalsTell = text.contains(where: \.isLowercase)
        var result: [Name] = []
        var sentenceStart = true
        var quoted = false
        for raw in text.split(whereSeparator: \.isWhitespace) {
            var scalars = Array(raw.unicodeScalars)
            // A quotation opens on a span's first character and closes on a later one, or on a
            // closing mark standing alone (`"` alone closes what is open, else opens).
            var opensQuote = scalars.first.map(openingQuotes.contains) ?? false
            var closesQuote = scalars.dropFirst().contains(where: closingQuotes.contains)
            if quoted, scalars.count == 1, closingQuotes.contains(scalars[0]) { opensQuote = false; closesQuote = true }
            if opensQuote { quoted = true }
            while let first = scalars.first, leading.contains(first) { scalars.removeFirst() }
            let endsSentence = scalars.last.map { [".", "!", "?", "…", ":"].contains($0) } ?? false
            while let last = scalars.last, trailing.contains(last) { scalars.removeLast() }
            let inQuotes = quoted
            defer {
                if !scalars.isEmpty || endsSentence { sentenceStart = endsSentence }
                if closesQuote { quoted = false }
            }
            if inQuotes { continue }
            // "l'Australie", "d’Excel": the elided article is not part of the name.
            if let cut = scalars.firstIndex(where: apostrophes.contains),
               FrenchText.elisions.contains(FrenchText.fold(String(String.UnicodeScalarView(scalars[..<cut])))) {
                scalars = Array(scalars[(cut + 1)...])
            }
            let word = String(String.UnicodeScalarView(scalars))
            guard !scalars.isEmpty, !word.contains(where: \.isNumber), word.filter(\.isLetter).count >= 2 else { continue }
            let wordTerms = terms(word)
            guard !wordTerms.isEmpty, unknownTerms.map({ wordTerms.allSatisfy($0.contains) }) != false else { continue }
            let capitalised = capitalsTell && !sentenceStart && word.contains(where: \.isUppercase)
            if capitalised || words.map({ !$0.contains(word) }) == true { result.append(Name(surface: word, terms: wordTerms)) }
        }
        return result
    }

    private static func analyse(_ raw: String.UnicodeScalarView, into out: inout [String]) {
        var scalars = Array(raw)
        while let first = scalars.first, leading.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, trailing.contains(last) { scalars.removeLast() }
        guard !scalars.isEmpty else { return }

        // Words and the separator that follows each one.
        var words: [(word: String, next: Unicode.Scalar?)] = []
        var current = String.UnicodeScalarView()
        var joined = false   // two words joined by a connector
        for scalar in scalars {
            if FrenchText.isWordScalar(scalar) {
                current.append(scalar)
            } else {
                if !current.isEmpty {
                    words.append((String(current), scalar))
                    current = String.UnicodeScalarView()
                } else if let last = words.last, last.next != nil, connectors.contains(scalar) {
                    words[words.count - 1].next = scalar
                }
            }
        }
        if !current.isEmpty { words.append((String(current), nil)) }
        guard !words.isEmpty else { return }
        for w in words.dropLast() where w.next.map(connectors.contains) == true { joined = true }
        let option = scalars.first == "-" && FrenchText.isWordScalar(scalars.count > 1 ? scalars[1] : " ")
            || scalars.count > 2 && scalars[0] == "-" && scalars[1] == "-"
        let path = scalars.first == "/" && words.count >= 1
        // French joins verbs and pronouns with hyphens ("met-on", "diminue-t-elle", "est-ce"),
        // also after an elided word ("qu'est-ce", "n'étaient-elles"): such a span is not a name,
        // and as a term it would only be a rare, misleading one.
        let hyphensOnly = words.dropLast().allSatisfy { $0.next == "-" || $0.next.map(apostrophes.contains) == true }
        let hasFunctionWord = words.contains { FrenchText.stopWords.contains(FrenchText.fold($0.word)) || $0.word.count == 1 }
        let frenchCompound = hyphensOnly && !option && hasFunctionWord
        if joined || option || path, !frenchCompound, scalars.count <= 80 {
            out.append(identifier(scalars))
        }
        for (index, entry) in words.enumerated() {
            let lower = entry.word.lowercased()
            let folded = FrenchText.fold(lower)
            // An elided article or pronoun ("l'", "qu'") before an apostrophe.
            if let next = entry.next, apostrophes.contains(next), index < words.count - 1,
               FrenchText.elisions.contains(folded) { continue }
            if FrenchText.stopWords.contains(folded) { continue }
            if folded.unicodeScalars.count == 1, !(folded.first?.isNumber ?? false) { continue }
            if folded.allSatisfy(\.isNumber) { out.append(folded); continue }
            out.append(stemTerm(lower))
        }
    }

    /// The folded Snowball stem of a lower-case word. Snowball reads accents ("configurée" →
    /// "configur"); the same word typed without them ("configuree") keeps an `e` the accent would
    /// have removed, so trailing `e`s of the folded stem are dropped on both sides.
    public static func stemTerm(_ lower: String) -> String {
        var snowball = FrenchStemmer.shared.stem(lower)
        // Snowball parts an -ire verb's infinitive ("extraire" → "extrair", "construire",
        // "écrire") from its participle ("extrait", "construit", "écrit"), which documents and
        // questions use as often: the infinitive's stem becomes the participle's.
        if lower.hasSuffix("ire") || lower.hasSuffix("ires"), snowball.hasSuffix("ir"), snowball.count >= 4 {
            snowball = String(snowball.dropLast(2)) + "it"
        }
        var stem = FrenchText.fold(snowball)
        while stem.hasSuffix("e"), stem.count > 3 { stem.removeLast() }
        return stem
    }

    /// The whole span as one term: folded, every character that is not a letter or digit as `_`.
    private static func identifier(_ scalars: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        for scalar in FrenchText.fold(String(String.UnicodeScalarView(scalars))).unicodeScalars {
            view.append(FrenchText.isWordScalar(scalar) ? scalar : "_")
        }
        return String(view)
    }
}
