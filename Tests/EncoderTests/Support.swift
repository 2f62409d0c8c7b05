import Foundation

/// Paths of the repository, found from this file.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let miniLM = root.appendingPathComponent("models/encoder/all-MiniLM-L6-v2")
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Resources")
}

/// `/work/shared/fixtures/minilm.json`, copied into Resources.
struct MiniLMFixture: Decodable {
    struct Case: Decodable {
        let text: String
        let ids: [Int]
        let tokens: [String]
        let embedding: [Float]
    }
    let max_seq_length: Int
    let cases: [Case]

    static func load() throws -> MiniLMFixture {
        let data = try Data(contentsOf: Repo.resources.appendingPathComponent("minilm.json"))
        return try JSONDecoder().decode(MiniLMFixture.self, from: data)
    }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in 0..<min(a.count, b.count) {
        dot += Double(a[i]) * Double(b[i]); na += Double(a[i]) * Double(a[i]); nb += Double(b[i]) * Double(b[i])
    }
    return dot / max((na * nb).squareRoot(), 1e-30)
}

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
