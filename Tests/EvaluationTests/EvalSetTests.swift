import Foundation
import Index
import Testing
import Evaluation

@Suite("Evaluation sets")
struct EvalSetTests {
    static func question(_ json: String) throws -> EvalQuestion {
        try JSONDecoder().decode(EvalQuestion.self, from: Data(json.utf8))
    }

    @Test("a hit answers when its file, page and text hold the evidence, compared folded")
    func hitMatching() throws {
        let q = try Self.question("""
            {"id": "x", "question": "?", "class": "lookup", "file": "a.pdf", "page": 2, "expected": "Le Paquet  est installé"}
            """)
        func hit(_ file: String, _ page: Int?, _ text: String) -> SearchHit {
            SearchHit(chunkID: 1, file: file, page: page, ordinal: 0, score: 1, text: text, snippet: "")
        }
        #expect(q.isAnswered(by: hit("a.pdf", 2, "… le paquet\nest INSTALLE ici")))
        #expect(!q.isAnswered(by: hit("a.pdf", 3, "le paquet est installé")))
        #expect(!q.isAnswered(by: hit("b.pdf", 2, "le paquet est installé")))
    }

    @Test("an answer is correct when every key matches, case and accents ignored")
    func answerKeys() throws {
        let q = try Self.question("""
            {"id": "x", "question": "?", "class": "synthesis", "answer": ["apt-get\\\\s+install", "depot|dépôt"]}
            """)
        #expect(q.isCorrect(answer: "Utilisez APT-GET  install depuis le Dépôt [1]."))
        #expect(!q.isCorrect(answer: "Utilisez apt-get install [1]."))
        // Upper-case classes keep their meaning (`\S` is not `\s`), accents are ignored in patterns too.
        let upper = try Self.question(#"{"id": "z", "question": "?", "class": "lookup", "answer": ["\\S+\\.list", "Dépôt"]}"#)
        #expect(upper.isCorrect(answer: "Voyez sources.list du depot"))
        #expect(!upper.isCorrect(answer: "Voyez  .list du depot"))
        let offTopic = try Self.question(#"{"id": "y", "question": "?", "class": "offtopic"}"#)
        #expect(!offTopic.isCovered && !offTopic.isCorrect(answer: "anything"))
    }

    @Test("rank scores count hit@k and MRR over covered questions only")
    func rankScore() throws {
        let questions = try ["lookup", "paraphrase", "offtopic"].enumerated().map { i, c in
            try Self.question(#"{"id": "q\#(i)", "question": "?", "class": "\#(c)", "file": "f", "expected": "needle"}"#)
        }
        let run = RetrievalRun(mode: "m", questions: questions) { q in
            let answering = SearchHit(chunkID: 1, file: "f", page: nil, ordinal: 0, score: 1, text: "a needle", snippet: "")
            let other = SearchHit(chunkID: 2, file: "f", page: nil, ordinal: 1, score: 1, text: "hay", snippet: "")
            return q.id == "q0" ? [answering] : [other, other, answering]
        }
        #expect(run.all.questions == 2 && run.all.hitAt1 == 1 && run.all.hitAt3 == 2)
        #expect(abs(run.all.mrrAt5 - (1 + 1.0 / 3) / 2) < 1e-9)
        #expect(run.byClass[.paraphrase]?.hitAt1 == 0)
    }
}
