import Index
import RAG
import Testing

@Suite("Grounding check")
struct GroundingCheckTests {
    static let passages = [
        "Pour installer un paquet, lancez apt-get install suivi du nom du paquet. Il faut être root.",
        "Le fichier /etc/apt/sources.list liste les dépôts. Chaque ligne décrit un dépôt et ses composants.",
    ]
    let check = GroundingCheck(passages: passages, question: "Comment installer un paquet ?")

    @Test("a sentence its cited passage supports is kept")
    func supported() {
        #expect(check.check("Lancez apt-get install avec le nom du paquet [1].") == .kept("Lancez apt-get install avec le nom du paquet [1]."))
        // Other words for the same facts still hold most terms.
        #expect(check.check("Il faut être root pour lancer apt-get install [1].").text != nil)
    }

    @Test("a wrong citation is moved to the passage that supports the sentence")
    func recited() {
        #expect(check.check("Les dépôts sont listés dans /etc/apt/sources.list [1].")
                == .recited("Les dépôts sont listés dans /etc/apt/sources.list [2]."))
        #expect(check.check("Les dépôts sont listés dans /etc/apt/sources.list.")
                == .recited("Les dépôts sont listés dans /etc/apt/sources.list [2]."))
    }

    @Test("an invented number or path is not supported")
    func exactTerms() {
        let outcome = check.check("Les dépôts sont listés dans /etc/apt/repos.conf [2].")
        #expect(outcome != .kept("Les dépôts sont listés dans /etc/apt/repos.conf [2]."))
        if case .quoted(let q) = outcome { #expect(q.contains("sources.list") && q.hasSuffix("[2]")) }
    }

    @Test("an unsupported claim is dropped or replaced by a quote")
    func unsupported() {
        #expect(check.check("Windows utilise le registre pour stocker la configuration [1].") == .dropped)
        let quoted = check.check("Chaque ligne du fichier décrit un dépôt différent, avec ses sections [1].")
        #expect(quoted.text != nil)
    }

    @Test("sentences without claims are kept")
    func noClaim() {
        #expect(check.check("Voici comment faire :") == .kept("Voici comment faire :"))
        #expect(check.check("Pour installer un paquet :") == .kept("Pour installer un paquet :"))
    }

    @Test("citations are parsed, stripped and replaced")
    func citations() {
        #expect(AnswerCitations.numbers(in: "a [2] b [1, 3] c [4-5] [2]") == [2, 1, 3, 4, 5])
        #expect(AnswerCitations.strip("Texte [1] suite [2, 3].") == "Texte suite.")
        #expect(AnswerCitations.replace(in: "Texte [1].", with: 3) == "Texte [3].")
    }

    static func input() -> AnswerInput {
        let passages = passages.enumerated().map { SearchHit(chunkID: Int64($0.offset), file: "f.txt", score: 1, text: $0.element) }
        return AnswerInput(question: "Comment installer un paquet ?", passages: passages)
    }

    @Test("a streamed answer gives out only supported sentences, whole, and says how it ended")
    func streamedAnswer() {
        var grounded = GroundedAnswer(input: Self.input())
        var out: [String] = []
        for piece in ["Lancez apt-get ", "install avec le nom du paquet [1]. Windows utilise le ", "registre pour stocker la configuration [1]. Les dépôts ",
                      "sont listés dans /etc/apt/sources.list [1]."] {
            out += grounded.feed(piece)
        }
        out += grounded.finish()
        #expect(out == ["Lancez apt-get install avec le nom du paquet [1].", " Les dépôts sont listés dans /etc/apt/sources.list [2]."])
        #expect(grounded.verdict == .answered && grounded.dropped == 1)
    }

    @Test("a model that declines, or says nothing supported, is told apart")
    func declinedOrUnsupported() {
        var declined = GroundedAnswer(input: Self.input())
        let said = declined.feed("Les documents ne permettent pas de répondre à cette question. Mais lancez apt-get install [1].") + declined.finish()
        #expect(said.isEmpty && declined.verdict == .declined)
        var invented = GroundedAnswer(input: Self.input())
        #expect((invented.feed("Windows utilise le registre pour stocker la configuration.") + invented.finish()).isEmpty)
        #expect(invented.verdict == .unsupported)
        #expect(GroundedAnswer.isDecline("The documents do not contain information about this."))
        #expect(!GroundedAnswer.isDecline("Lancez apt-get install [1]."))
    }
}

@Suite("Extractive steps")
struct ExtractiveStepsTests {
    @Test("a procedure's numbered steps are quoted in order, section numbers and figures are not steps")
    func numberedSteps() {
        let text = """
            3.2 La pâte brisée
            3. Recette de la pâte
            Préparation :
            1. Mélangez la farine et le sel.
            2. Ajoutez le beurre froid en dés.
            3.5 kg de pommes ne sont pas une étape.
            3. Versez l'eau et rassemblez la pâte.
            4. Laissez reposer 30 minutes.
            """
        #expect(ExtractiveBackend.numberedSteps(in: text) == """
            Préparation :
            1. Mélangez la farine et le sel.
            2. Ajoutez le beurre froid en dés.
            3. Versez l'eau et rassemblez la pâte.
            4. Laissez reposer 30 minutes.
            """)
        #expect(ExtractiveBackend.numberedSteps(in: "1. Un.\n2. Deux.") == nil)
        // The list of what the steps need comes first, with its heading.
        let recipe = "3.1 Ingrédients\n- 250 g de farine\n- 125 g de beurre\n3.2 La pâte\n1. Mélangez tout.\n2. Pétrissez peu.\n3. Laissez reposer."
        #expect(ExtractiveBackend.numberedSteps(in: recipe)
                == "3.1 Ingrédients\n- 250 g de farine\n- 125 g de beurre\n1. Mélangez tout.\n2. Pétrissez peu.\n3. Laissez reposer.")
        #expect(ExtractiveBackend.numberedSteps(in: text, limit: 3)?.hasSuffix("3. Versez l'eau et rassemblez la pâte.") == true)
    }

    @Test("a procedure question over a passage with steps is answered with the steps first")
    func procedureAnswer() async throws {
        let passage = SearchHit(chunkID: 1, file: "r.txt", score: 1, text: """
            Recette
            1. Mélangez la farine et le sel dans un saladier.
            2. Ajoutez le beurre froid et sablez du bout des doigts.
            3. Versez l'eau froide et formez une boule de pâte.
            """)
        let quotes = try await ExtractiveBackend().quotes(question: "Comment faire une pâte brisée ?", passages: [passage])
        #expect(quotes.first?.sentence.hasPrefix("1. Mélangez") == true)
        #expect(quotes.first?.sentence.contains("3. Versez") == true)
    }
}
