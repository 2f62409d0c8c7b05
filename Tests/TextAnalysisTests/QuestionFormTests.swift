import Testing
import TextAnalysis

@Suite("Question form")
struct QuestionFormTests {
    @Test("procedures, enumerations and facts are told apart by their wording", arguments: [
        ("Comment faire une tarte aux pommes ?", QuestionForm.procedure),
        ("Quelles sont les étapes pour bloquer un paquet ?", .procedure),
        ("Comment préparer la pâte brisée ?", .procedure),
        ("Quelles sont les différentes variantes de la tarte aux pommes ?", .enumeration),
        ("Quelle différence y a-t-il entre remove et purge ?", .enumeration),
        ("Quels sont les paquets nécessaires ?", .enumeration),
        ("Comment savoir si ma Debian suit stable ?", .fact),
        ("Quel fichier contient le numéro de version ?", .fact),
        ("", .fact),
    ])
    func forms(question: String, form: QuestionForm) {
        #expect(QuestionForm(question) == form)
        #expect(QuestionForm(question).needsSection == (form != .fact))
    }
}
