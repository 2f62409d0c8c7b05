import Foundation
import GRDB
import TextAnalysis

/// What says whether the index holds an answer to a query at all: a nearest neighbour and a best
/// BM25 match always exist, so their ranks say nothing; these absolute measures do.
public struct RelevanceSignals: Sendable, Hashable, Codable {
    /// The highest cosine similarity between the query's vector and any chunk's; `nil` without
    /// vectors.
    public var bestCosine: Double?
    /// How far the best cosine stands above the query's background similarity (the mean cosine
    /// of its 10th to 30th nearest chunks): a question the documents answer has a few chunks
    /// clearly closer than the rest; one they do not cover is about as close to everything.
    /// `nil` without vectors or with fewer than 30 chunks.
    public var cosineMargin: Double?
    /// The largest share, weighted by rarity (BM25's IDF), of the query's terms that one chunk
    /// holds (0…1): 1 when a chunk has every term, near 0 when only common terms match. Terms
    /// absent from the whole index weigh the most, so a question about something the documents
    /// never name scores low.
    public var keywordCoverage: Double
    /// How many distinct terms the query has (`KeywordAnalyzer.queryTerms`).
    public var queryTerms: Int
    /// The query's terms that no chunk holds (a name or a thing the documents never mention).
    public var unknownTerms: [String]

    public init(bestCosine: Double?, cosineMargin: Double? = nil, keywordCoverage: Double, queryTerms: Int, unknownTerms: [String] = []) {
        self.bestCosine = bestCosine
        self.cosineMargin = cosineMargin
        self.keywordCoverage = keywordCoverage
        self.queryTerms = queryTerms
        self.unknownTerms = unknownTerms
    }
}

extension IndexStore {
    /// The relevance signals of a query: its best cosine over every vector of `modelID` (when a
    /// vector is given) and its best keyword coverage over the `candidates` best BM25 chunks.
    public func relevance(_ query: String, vector: [Float]?, modelID: String?, candidates: Int = 20) throws -> RelevanceSignals {
        var bestCosine: Double?
        var margin: Double?
        if let vector, let modelID {
            let snapshot = try vectorSnapshot(modelID: modelID)
            if snapshot.dimension > 0, snapshot.dimension == vector.count {
                let nearest = Self.topK(vector, snapshot: snapshot, k: 30).map { Double($0.score) }
                bestCosine = nearest.first
                if nearest.count == 30, let best = nearest.first {
                    margin = best - nearest[9...].reduce(0, +) / Double(nearest.count - 9)
                }
            }
        }
        let terms = KeywordAnalyzer.queryTerms(query)
        guard !terms.isEmpty else { return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: 0, queryTerms: 0) }
        let (coverage, unknown) = try guarded(path) {
            try pool.read { db -> (Double, [String]) in
                let frequencies = try Self.documentFrequencies(terms, db)
                let unknown = terms.filter { (frequencies[$0] ?? 0) == 0 }
                guard let ranking = try Self.keywordRanking(query, k: candidates, db), !ranking.ranked.isEmpty else { return (0, unknown) }
                let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM chunks") ?? 0
                let weights = terms.map { Self.idf(documents: frequencies[$0] ?? 0, total: total) }
                let sum = weights.reduce(0, +)
                guard sum > 0 else { return (0, unknown) }
                let ids = ranking.ranked.map(\.id)
                let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
                var best = 0.0
                for row in try Row.fetchAll(db, sql: "SELECT terms FROM chunks WHERE id IN (\(placeholders))",
                                            arguments: StatementArguments(ids)) {
                    let held = Set((row["terms"] as String).split(separator: " ").map(String.init))
                    var covered = 0.0
                    for (term, weight) in zip(terms, weights) where held.contains(term) { covered += weight }
                    best = max(best, covered / sum)
                }
                return (best, unknown)
            }
        }
        return RelevanceSignals(bestCosine: bestCosine, cosineMargin: margin, keywordCoverage: coverage, queryTerms: terms.count,
                                unknownTerms: unknown)
    }

    /// BM25's inverse document frequency, floored above 0: ln(1 + (N − n + 0.5) / (n + 0.5)).
    static func idf(documents n: Int, total: Int) -> Double {
        log(1 + (Double(max(total - n, 0)) + 0.5) / (Double(n) + 0.5))
    }
}

/// Decides from `RelevanceSignals` whether the documents cover a query. A question is covered
/// when its meaning is close to a chunk (`sureCosine`), or when it is reasonably close
/// (`minimumCosine`) and one chunk holds enough of its rare words (`minimumCoverage`). Without
/// vectors, keyword coverage alone decides (`keywordOnlyCoverage`).
public struct RelevanceGate: Sendable, Hashable, CustomStringConvertible {
    public var sureCosine: Double
    public var minimumCosine: Double
    public var minimumCoverage: Double
    public var keywordOnlyCoverage: Double

    public init(sureCosine: Double, minimumCosine: Double, minimumCoverage: Double, keywordOnlyCoverage: Double) {
        self.sureCosine = sureCosine
        self.minimumCosine = minimumCosine
        self.minimumCoverage = minimumCoverage
        self.keywordOnlyCoverage = keywordOnlyCoverage
    }

    public func isCovered(_ signals: RelevanceSignals) -> Bool {
        guard let cosine = signals.bestCosine else { return signals.keywordCoverage >= keywordOnlyCoverage }
        if cosine >= sureCosine { return true }
        // A passage that holds half of the question's rare words is evidence enough unless the
        // meaning is far off: short, general questions over a one-topic corpus ("Quelles sont les
        // erreurs à éviter ?") have a low cosine but every word in one passage.
        if cosine >= minimumCosine - 0.05, signals.keywordCoverage >= keywordOnlyCoverage { return true }
        return cosine >= minimumCosine && signals.keywordCoverage >= minimumCoverage
    }

    /// Lets everything through (the gate turned off).
    public static let open = RelevanceGate(sureCosine: -1, minimumCosine: -1, minimumCoverage: 0, keywordOnlyCoverage: 0)

    /// For multilingual-e5-small, calibrated on the French development set (`ragchat bench
    /// retrieval --set dev-fr --verbose`, see BENCHMARKS.md) for no wrongly declined question: e5
    /// gives any French text a cosine near 0.8, off-topic questions 0.75–0.89 and covered ones
    /// 0.83–0.95, so cosine alone cannot separate them. The gate declines what is plainly far
    /// (cosine < 0.83, or < 0.86 with under a fifth of the question's rare words in any passage,
    /// unless one passage holds half of them and the cosine is ≥ 0.78), about 40 % of the
    /// off-topic questions.
    public static let e5 = RelevanceGate(sureCosine: 0.86, minimumCosine: 0.83, minimumCoverage: 0.2, keywordOnlyCoverage: 0.5)

    /// For all-MiniLM-L6-v2 (an English model: unrelated French text gets 0.35–0.5): not
    /// calibrated on the development set; declines only what shares neither meaning nor words.
    public static let miniLM = RelevanceGate(sureCosine: 0.7, minimumCosine: 0.3, minimumCoverage: 0.3, keywordOnlyCoverage: 0.5)

    /// The gate for the index's encoder (its model id), e5's when the id does not say.
    public static func standard(forEncoder modelID: String?) -> RelevanceGate {
        guard let modelID else { return .e5 }
        return modelID.localizedCaseInsensitiveContains("minilm") ? .miniLM : .e5
    }

    public var description: String {
        String(format: "covered when cosine ≥ %.3f, or cosine ≥ %.3f and keyword coverage ≥ %.2f, or cosine ≥ %.3f and coverage ≥ %.2f; keywords only: coverage ≥ %.2f",
               sureCosine, minimumCosine, minimumCoverage, minimumCosine - 0.05, keywordOnlyCoverage, keywordOnlyCoverage)
    }
}

extension IndexStore {
    /// The hit's chunk joined with up to `after` following (and `before` preceding) chunks of the
    /// same document, their overlaps removed: a list or a procedure that the chunker cut in two
    /// reads whole. The result keeps the hit's id, scores and page.
    public func neighbourhood(of hit: SearchHit, before: Int = 0, after: Int = 1) throws -> SearchHit {
        guard before > 0 || after > 0 else { return hit }
        return try guarded(path) {
            try pool.read { db in
                let rows = try Row.fetchAll(db, sql: """
                    SELECT ordinal, page, start_offset, end_offset, text FROM chunks
                    WHERE document_id = (SELECT document_id FROM chunks WHERE id = ?) AND ordinal BETWEEN ? AND ?
                    ORDER BY ordinal
                    """, arguments: [hit.chunkID, hit.ordinal - before, hit.ordinal + after])
                guard rows.count > 1 else { return hit }
                var merged = hit
                var text = String.UnicodeScalarView()
                var previous: (page: Int?, end: Int)?
                for row in rows {
                    let chunk: String = row["text"]
                    let page: Int? = row["page"], start: Int = row["start_offset"], end: Int = row["end_offset"]
                    var scalars = Substring(chunk).unicodeScalars[...]
                    if let previous {
                        if previous.page == page, previous.end > start {
                            scalars = scalars.dropFirst(min(previous.end - start, scalars.count))
                        } else {
                            text.append(contentsOf: "\n\n".unicodeScalars)
                        }
                    }
                    text.append(contentsOf: scalars)
                    previous = (page, end)
                }
                merged.text = String(text)
                return merged
            }
        }
    }
}

extension IndexStore {
    /// The hit with the chunk before it (when the hit starts inside a section) and the chunks after
    /// it, on the same page of the same document, up to `maxCharacters` (overlaps removed): a
    /// procedure or a list that the chunker cut reads whole. Keeps the hit's id, scores and page.
    public func section(of hit: SearchHit, maxCharacters: Int = 4800) throws -> SearchHit {
        // Sizes and pages of the chunk before the hit and of the four after it, in one read.
        let around = try guarded(path) {
            try pool.read { db in
                try Row.fetchAll(db, sql: """
                    SELECT ordinal, page, length(text) AS size FROM chunks
                    WHERE document_id = (SELECT document_id FROM chunks WHERE id = ?) AND ordinal BETWEEN ? AND ?
                    ORDER BY ordinal
                    """, arguments: [hit.chunkID, hit.ordinal - 1, hit.ordinal + 4]).map {
                    (ordinal: $0["ordinal"] as Int, page: $0["page"] as Int?, size: $0["size"] as Int)
                }
            }
        }
        var length = hit.text.count
        // The chunk just before, when the hit starts inside its section (a list cut after its
        // first items).
        var before = 0
        if let previous = around.first(where: { $0.ordinal == hit.ordinal - 1 }), previous.page == hit.page,
           !hit.context.isEmpty, !hit.text.hasPrefix(hit.context.components(separatedBy: " — ").last ?? "") {
            before = 1
            length += previous.size
        }
        var after = 0
        for chunk in around where chunk.ordinal > hit.ordinal {
            // Same page (a citation names the hit's page), within the length. Sub-sections are
            // not a limit: a procedure's steps often run across "3.2", "3.3"….
            guard chunk.page == hit.page, length + chunk.size <= maxCharacters else { break }
            after += 1
            length += chunk.size
        }
        return try neighbourhood(of: hit, before: before, after: after)
    }

    /// The passages to answer `question` from: `hits` as found, the first one extended to the
    /// rest of its section (`section(of:)`) when the question asks for steps or a list
    /// (`QuestionForm`), since those run past one chunk.
    public func answerPassages(for question: String, hits: [SearchHit]) throws -> [SearchHit] {
        let form = QuestionForm(question)
        guard form.needsSection, let first = hits.first else { return hits }
        var result = hits
        result[0] = try section(of: first)
        if form == .enumeration { result[0].outline = try outline(of: first, question: question) }
        return result
    }

    /// The headings of the direct sub-sections of the section the question is about, in document
    /// order: for "Quelles sont les variantes…" and a hit under or holding "2. Les variantes…", the
    /// "2.1 …", "2.2 …" lines of its document. The section is the numbered heading, among the
    /// hit's own and those in its text, that shares the most words with the question. Empty when
    /// there is no numbered heading.
    public func outline(of hit: SearchHit, question: String) throws -> [String] {
        func number(_ heading: String) -> String? {
            guard let n = heading.split(separator: " ").first, n.first?.isNumber == true,
                  n.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
            return String(n)
        }
        let questionTerms = Set(KeywordAnalyzer.terms(question))
        var candidates = [hit.context.components(separatedBy: " — ").last ?? ""]
        candidates += hit.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count <= 100 }
        var best: (number: String, shared: Int)?
        for heading in candidates {
            guard let n = number(heading) else { continue }
            let shared = Set(KeywordAnalyzer.terms(heading)).intersection(questionTerms).count
            if best == nil || shared > best!.shared { best = (n, shared) }
        }
        guard let chosen = best?.number else { return [] }
        let prefix = chosen.hasSuffix(".") ? chosen : chosen + "."
        let texts = try guarded(path) {
            try pool.read { db in
                try String.fetchAll(db, sql: """
                    SELECT text FROM chunks WHERE document_id = (SELECT document_id FROM chunks WHERE id = ?) ORDER BY ordinal
                    """, arguments: [hit.chunkID])
            }
        }
        var seen = Set<String>()
        var result: [String] = []
        for text in texts {
            for line in text.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.count <= 100, trimmed.hasPrefix(prefix) else { continue }
                // One level down: digits, an optional ".", a space, then the title.
                let rest = trimmed.dropFirst(prefix.count)
                let digits = rest.prefix(while: \.isNumber)
                guard !digits.isEmpty else { continue }
                var title = rest.dropFirst(digits.count)
                if title.hasPrefix(".") { title = title.dropFirst() }
                guard title.hasPrefix(" "), let last = title.last, !".!?:;,".contains(last),
                      title.contains(where: \.isLetter), seen.insert(trimmed).inserted else { continue }
                result.append(trimmed)
            }
        }
        return result
    }
}
