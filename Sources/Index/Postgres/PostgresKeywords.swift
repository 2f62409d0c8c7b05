import Foundation
import TextAnalysis

/// The French keyword side of the PostgreSQL index, in Swift so that it ranks as SQLite's FTS5
/// does: the same `KeywordAnalyzer` terms, the same BM25 (k1 = 1.2, b = 0.75, IDF
/// ln((N − n + 0.5)/(n + 0.5)) floored at 1e-6), the same collection statistics.
enum PostgresKeywords {
    /// A tsvector lexeme is at most 2 KiB: a longer term (a 100,000-letter "word") cannot be
    /// stored or searched, so it is left out of `terms_tsv` and of queries (it still counts in the
    /// chunk's length, as in FTS5).
    static let maximumLexemeBytes = 2_046
    /// A tsvector keeps at most 256 positions per lexeme: term frequencies are counted up to that
    /// (BM25 has long saturated there).
    static let maximumFrequency = 256

    /// `terms` as a tsvector literal: each distinct term once, with positions 1…tf, so that
    /// `cardinality(positions)` is its frequency. Positions are not word positions: nothing here
    /// uses phrase search, and numbering per lexeme keeps them under PostgreSQL's 16,383 limit
    /// whatever the chunk's length.
    static func tsvector(_ terms: [String]) -> String {
        var frequencies: [String: Int] = [:]
        var order: [String] = []
        for term in terms where term.utf8.count <= maximumLexemeBytes && !term.isEmpty {
            if frequencies[term] == nil { order.append(term) }
            frequencies[term, default: 0] += 1
        }
        return order.map { term in
            let count = min(frequencies[term] ?? 1, maximumFrequency)
            return quoted(term) + ":" + (1...count).map(String.init).joined(separator: ",")
        }.joined(separator: " ")
    }

    /// A lexeme quoted for tsvector input: quotes and backslashes doubled.
    static func quoted(_ term: String) -> String {
        "'" + term.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// FTS5's BM25 IDF of a term held by `n` of `total` chunks.
    static func idf(documents n: Int, total: Int) -> Double {
        let value = log((Double(total - n) + 0.5) / (Double(n) + 0.5))
        return value > 0 ? value : 1e-6
    }

    // MARK: - Snippets

    /// The extract shown beside a keyword hit, as FTS5's `snippet(…, '[', ']', '…', 24)` gives it
    /// for SQLite: about 24 words around the query's words, each match in `[` `]` (a query word
    /// matches as typed, accents and case aside, or by its light stem's prefix, as `FTSQuery`
    /// says). `nil` when no word matches.
    static func snippet(_ text: String, query: String, words: Int = 24) -> String? {
        let terms = FTSQuery.parse(query)
        guard !terms.isEmpty else { return nil }
        let scalars = text.unicodeScalars
        // Word ranges, as unicode61 splits them.
        var tokens: [Range<String.UnicodeScalarView.Index>] = []
        var start: String.UnicodeScalarView.Index?
        var index = scalars.startIndex
        while index != scalars.endIndex {
            if FrenchText.isWordScalar(scalars[index]) {
                if start == nil { start = index }
            } else if let first = start {
                tokens.append(first..<index)
                start = nil
            }
            index = scalars.index(after: index)
        }
        if let first = start { tokens.append(first..<scalars.endIndex) }
        let matched: [Int?] = tokens.map { range in
            let folded = FrenchText.fold(String(scalars[range]).lowercased())
            return terms.firstIndex { $0.folded == folded || ($0.stem.map { folded.hasPrefix($0) } ?? false) }
        }
        guard matched.contains(where: { $0 != nil }) else { return nil }
        // The window with the most distinct matched words (then the most matches), earliest first.
        var best = (start: 0, distinct: -1, total: -1)
        for first in 0..<max(1, tokens.count - words + 1) {
            let window = matched[first..<min(tokens.count, first + words)].compactMap { $0 }
            let distinct = Set(window).count
            if distinct > best.distinct || (distinct == best.distinct && window.count > best.total) {
                best = (first, distinct, window.count)
            }
        }
        let last = min(tokens.count, best.start + words) - 1
        var out = best.start > 0 ? "…" : ""
        var cursor = tokens[best.start].lowerBound
        for number in best.start...last {
            out += String(scalars[cursor..<tokens[number].lowerBound])
            let word = String(scalars[tokens[number]])
            out += matched[number] != nil ? "[" + word + "]" : word
            cursor = tokens[number].upperBound
        }
        if last < tokens.count - 1 {
            out += "…"
        } else {
            out += String(scalars[cursor...])
        }
        return out
    }
}
