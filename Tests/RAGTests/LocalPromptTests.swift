import Foundation
import Index
import RAG
import Testing
import TextAnalysis

/// The completion prompt's pieces for small base models: focused passages, the compact frame,
/// the answer opening from the question's form, the answer shaper's limits.
@Suite struct LocalPromptTests {
    @Test func passageSentencesDropTheLeadingFragmentAndKeepHeadings() {
        let text = "et froissées, parfumées.\n\n2.1 La tarte normande\n\nElle vient de Normandie. Elle est\ncrémeuse."
        #expect(TextTools.passageSentences(text) == ["La tarte normande.", "Elle vient de Normandie.", "Elle est crémeuse."])
        // A passage that starts with a capital keeps its first sentence.
        #expect(TextTools.passageSentences("Une phrase entière ici. Une autre phrase là.").count == 2)
    }

    @Test func focusedPassagesKeepTheSentencesAboutTheQuestion() {
        let a = "Le pain se cuit au four. La brioche contient du beurre. On la dore à l'œuf battu. Le four est chaud."
        let b = "Le pain de seigle est dense. Le pain complet est riche en fibres."
        let out = TextTools.focusedPassages([a, b], question: "Que contient la brioche ?", maxCharacters: 60)
        // The brioche sentence (the rare question word) then what follows, within 60 characters.
        #expect(out[0] == "La brioche contient du beurre. On la dore à l'œuf battu.")
        // No question word in b: its opening is kept.
        #expect(out[1] == "Le pain de seigle est dense.")
        // A large budget keeps the best sentence, all that follows, and the sentences before it
        // that share a question word (none here: the opening about bread goes).
        let all = TextTools.focusedPassages([a], question: "Que contient la brioche ?", maxCharacters: 1_000)
        #expect(all[0] == "La brioche contient du beurre. On la dore à l'œuf battu. Le four est chaud.")
        let c = "La brioche est ronde. Le pain est long. La brioche contient du beurre. Fin."
        #expect(TextTools.focusedPassages([c], question: "Que contient la brioche ?", maxCharacters: 1_000)[0]
                == "La brioche est ronde. La brioche contient du beurre. Fin.")
    }

    @Test func answerOpeningFromTheQuestionForm() {
        #expect(PromptBuilder.answerOpening(for: "Quel est le secret d'une bonne soupe ?") == "Le secret d'une bonne soupe")
        #expect(PromptBuilder.answerOpening(for: "Quelles sont les étapes du montage ?") == "Les étapes du montage")
        #expect(PromptBuilder.answerOpening(for: "Qu’est-ce que la migaine ?") == "La migaine est")
        #expect(PromptBuilder.answerOpening(for: "Comment réussir une pâte sablée ?") == "Pour réussir une pâte sablée, on")
        #expect(PromptBuilder.answerOpening(for: "Comment les Américains la servent-ils ?") == nil)
        #expect(PromptBuilder.answerOpening(for: "Qui a inventé la tarte Tatin ?") == nil)
        #expect(PromptBuilder.answerOpening(for: "How do I bake it?") == nil)
    }

    @Test func compactPromptWritesTheBestPassageLastWithItsNumber() {
        let passages = [
            SearchHit(chunkID: 1, file: "a.txt", score: 2, text: "Premier extrait."),
            SearchHit(chunkID: 2, file: "b.txt", score: 1, text: "Second\nextrait."),
        ]
        let b = PromptBuilder()
        let text = b.completion(question: "Quoi ?", passages: passages, style: .compact, bestLast: true)
        #expect(text == "Extraits :\n\n[2] Second extrait.\n\n[1] Premier extrait.\n\nQuestion : Quoi ?\nRéponse :")
        let ranked = b.completion(question: "Quoi ?", passages: passages, style: .compact)
        #expect(ranked.hasPrefix("Extraits :\n\n[1] Premier extrait.\n\n[2]"))
        #expect(!text.contains("Règles"))
    }

    @Test func shaperStopsAfterMaxSentencesAndDoesNotCiteTheRestatedQuestion() {
        let passage = "La brioche normande contient du beurre et des œufs. Elle lève deux heures."
        var s = AnswerShaper(passages: [passage], question: "Que contient la brioche normande ?")
        s.maxSentences = 2
        var out = s.feed("La brioche normande contient. La brioche contient du beurre et des œufs. Elle lève deux heures. Encore une phrase.")
        out += s.finish()
        // The first sentence only restates the question: no citation; stop after 2 sentences.
        #expect(out == "La brioche normande contient. La brioche contient du beurre et des œufs [1].")
        // Without the question, the same sentence is cited.
        var t = AnswerShaper(passages: [passage])
        #expect(t.feed("La brioche normande contient. ").contains("[1]"))
        #expect(s.stopped)
    }
}
