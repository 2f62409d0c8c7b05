import Foundation
import Index
import RAG
import TextAnalysis

/// A small in-memory BM25 retriever over plain-text passages: a stand-in for the index in tests.
public struct KeywordRetriever: Retriever {
    public let passages: [SearchHit]
    private let terms: [[String: Int]]
    private let lengths: [Double]
    private let documentFrequency: [String: Int]
    private let averageLength: Double

    public init(passages: [SearchHit]) {
        self.passages = passages
        var terms: [[String: Int]] = []
        var df: [String: Int] = [:]
        var lengths: [Double] = []
        for p in passages {
            var tf: [String: Int] = [:]
            let words = FrenchText.contentWords(p.text)
            for w in words { tf[w, default: 0] += 1 }
            for w in tf.keys { df[w, default: 0] += 1 }
            terms.append(tf)
            lengths.append(Double(words.count))
        }
        self.terms = terms
        self.lengths = lengths
        self.documentFrequency = df
        self.averageLength = max(1, lengths.reduce(0, +) / Double(max(1, lengths.count)))
    }

    /// Passages of about `chunkCharacters` made of whole paragraphs of the `.txt`/`.md` files in `folder`.
    public init(folder: URL, chunkCharacters: Int = 900) throws {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                .filter { $0.hasSuffix(".txt") || $0.hasSuffix(".md") }.sorted()
        } catch {
            throw RAGError.retrieval("cannot list \(folder.path): \(error.localizedDescription)")
        }
        var passages: [SearchHit] = []
        for file in files {
            let url = folder.appendingPathComponent(file)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw RAGError.retrieval("cannot read \(url.path) as UTF-8")
            }
            var chunk = ""
            func flush() {
                let t = chunk.trimmingCharacters(in: .whitespacesAndNewlines)
                if !t.isEmpty { passages.append(SearchHit(chunkID: Int64(passages.count + 1), file: file, score: 0, text: t)) }
                chunk = ""
            }
            for paragraph in text.components(separatedBy: "\n\n") {
                if chunk.count + paragraph.count > chunkCharacters && !chunk.isEmpty { flush() }
                chunk += (chunk.isEmpty ? "" : "\n\n") + paragraph
            }
            flush()
        }
        self.init(passages: passages)
    }

    public func retrieve(query: String, k: Int) async throws -> [SearchHit] {
        let q = Set(FrenchText.contentWords(query))
        let n = Double(passages.count)
        let k1 = 1.2, b = 0.75
        var scored: [(Int, Double)] = []
        for (i, tf) in terms.enumerated() {
            var s = 0.0
            for t in q {
                guard let f = tf[t].map(Double.init) else { continue }
                let df = Double(documentFrequency[t] ?? 0)
                let idf = log(1 + (n - df + 0.5) / (df + 0.5))
                s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * lengths[i] / averageLength))
            }
            if s > 0 { scored.append((i, s)) }
        }
        scored.sort { $0.1 > $1.1 }
        return scored.prefix(k).map { i, s in
            var p = passages[i]
            p.score = s
            return p
        }
    }
}
