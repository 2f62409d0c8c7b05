import Foundation
import Index
import RAG
import Testing
import TextAnalysis

@Suite struct TextToolsTests {
    @Test func foldsAccentsAndCase() {
        #expect(FrenchText.fold("Élève À l'ŒUF Crème") == "eleve a l'oeuf creme")
        #expect(FrenchText.words("L'été, c'est 3,5 kg !") == ["ete", "est", "3", "5", "kg"])
    }

    @Test func contentWordsDropStopWordsAndPlurals() {
        #expect(FrenchText.contentWords("Quelles sont les différentes variantes de la tarte aux pommes ?") == ["variante", "tarte", "pomme"])
        #expect(FrenchText.contentWords("Quel est le secret d'une bonne tarte aux pommes ?") == ["secret", "bonne", "tarte", "pomme"])
        #expect(FrenchText.contentWords("Comment faire une tarte aux pommes ?") == ["tarte", "pomme"])
    }

    @Test func splitsSentences() {
        let text = "La pâte doit reposer 30 min. au frais. Ensuite, étalez-la ! Le four est à 180 °C. Cuire 3.5 heures ? Non… Servir tiède."
        #expect(TextTools.sentences(text) == [
            "La pâte doit reposer 30 min. au frais.", "Ensuite, étalez-la !", "Le four est à 180 °C.", "Cuire 3.5 heures ?",
            "Non… Servir tiède.",   // too short alone: merged
        ])
    }

    @Test func splitsParagraphsAndListItems() {
        let text = "1.2 Au Moyen Âge\n\nOn enferme les aliments dans une croûte.\n- premier point de la liste\n- second point de la liste"
        #expect(TextTools.sentences(text) == [
            "1.2 Au Moyen Âge", "On enferme les aliments dans une croûte.", "- premier point de la liste",
            "- second point de la liste",
        ])
    }

    @Test("a wrapped line that starts with a quotation, an option or a number continues its sentence")
    func wrappedLinesContinue() {
        // A manual page wraps at 80 columns; its lines start wherever the words fall.
        let text = """
            Pour enlever un fichier dont le nom commence par « - », par exemple
            « -toto », utilisez une de ces commandes :
            Par défaut, rm n'efface pas les répertoires. Utilisez l'option
            -r pour effacer chaque répertoire avec son contenu, et head affiche les
            10 premières lignes de chaque fichier
            2. une étape numérotée
            - un élément de liste
            # Un titre
            """
        #expect(TextTools.sentences(text) == [
            "Pour enlever un fichier dont le nom commence par « - », par exemple\n« -toto », utilisez une de ces commandes :",
            "Par défaut, rm n'efface pas les répertoires.",
            "Utilisez l'option\n-r pour effacer chaque répertoire avec son contenu, et head affiche les\n10 premières lignes de chaque fichier",
            "2. une étape numérotée", "- un élément de liste", "# Un titre",
        ])
    }

    @Test func streamingSplitMatchesWholeSplit() {
        let text = "Selon les extraits, la tarte Tatin est cuite à l'envers [1]. Elle est caramélisée. La tarte normande contient de la crème [2]. M. Dupont l'aime beaucoup ! Fin du texte"
        var splitter = SentenceSplitter()
        var streamed: [String] = []
        var i = text.startIndex
        while i < text.endIndex {   // feed 3 characters at a time
            let j = text.index(i, offsetBy: 3, limitedBy: text.endIndex) ?? text.endIndex
            streamed += splitter.feed(String(text[i..<j]))
            i = j
        }
        if let rest = splitter.finish() { streamed.append(rest) }
        #expect(streamed == TextTools.sentences(text))
        #expect(streamed == [
            "Selon les extraits, la tarte Tatin est cuite à l'envers [1].", "Elle est caramélisée.",
            "La tarte normande contient de la crème [2].", "M. Dupont l'aime beaucoup !", "Fin du texte",
        ])
    }

    @Test func sentenceEndsOnlyWhenTheNextPieceConfirmsIt() {
        var splitter = SentenceSplitter()
        #expect(splitter.feed("Il faut 3.").isEmpty)      // could be "3.5"
        #expect(splitter.feed("5 kg de pommes. ").isEmpty)  // next word unknown yet
        #expect(splitter.feed("Puis") == ["Il faut 3.5 kg de pommes."])
        #expect(splitter.finish() == "Puis")
    }

    @Test func guessesEnglish() {
        #expect(TextTools.isLikelyEnglish("What is the secret of a good apple pie?"))
        #expect(!TextTools.isLikelyEnglish("Quel est le secret d'une bonne tarte aux pommes ?"))
        #expect(TextTools.isLikelyEnglish("What is the capital of Japan?"))
        #expect(!TextTools.isLikelyEnglish("Comment installer le paquet apache2 ?"))
    }
}

@Suite struct SSEParserTests {
    @Test func parsesChunkedStream() {
        let stream = "data: {\"a\":1}\n\n: comment\r\nevent: token\r\ndata: é\r\ndata: two\r\n\r\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        // Feed byte by byte: split inside CRLF and inside the 2-byte "é".
        var parser = SSEParser()
        var messages: [SSEMessage] = []
        for b in bytes { messages += parser.feed([b]) }
        messages += parser.finish()
        #expect(messages == [
            SSEMessage(data: "{\"a\":1}"), SSEMessage(event: "token", data: "é\ntwo"), SSEMessage(data: "[DONE]"),
        ])
    }

    @Test func flushesUnterminatedMessage() {
        var parser = SSEParser()
        #expect(parser.feed(Array("data: last".utf8)).isEmpty)
        #expect(parser.finish() == [SSEMessage(data: "last")])
    }
}

@Suite struct PromptBuilderTests {
    let passages = [
        SearchHit(chunkID: 1, file: "connaissances.txt", score: 0.9, text: "La tarte Tatin est cuite à l'envers."),
        SearchHit(chunkID: 7, file: "document.pdf", page: 3, score: 0.8, text: String(repeating: "pomme ", count: 400)),
    ]

    @Test func numbersPassagesWithFileAndPage() {
        let prompt = PromptBuilder(maxPassageCharacters: 100).build(question: "Qu'est-ce que la Tatin ?", passages: passages)
        #expect(prompt.messages.count == 2)
        #expect(prompt.messages[0].role == .system)
        let user = prompt.messages[1].content
        #expect(user.contains("[1] (connaissances.txt)\nLa tarte Tatin est cuite à l'envers."))
        #expect(user.contains("[2] (document.pdf, page 3)\n"))
        #expect(user.contains("…"))   // the long passage is cut
        #expect(user.hasSuffix("Question : Qu'est-ce que la Tatin ?"))
        let rules = prompt.messages[0].content
        #expect(rules.contains("uniquement à partir des extraits"))
        #expect(rules.contains("[1]"))
        #expect(rules.contains("ne permettent pas de répondre"))
        #expect(rules.contains("langue de la question"))
        #expect(prompt.text.contains(rules) && prompt.text.contains(user) && prompt.text.hasSuffix("Réponse :"))
    }

    @Test func includesRecentHistory() {
        let history: [ChatMessage] = (1...10).map { $0 % 2 == 1 ? .user("q\($0)") : .assistant("a\($0)") }
        let prompt = PromptBuilder(maxHistoryMessages: 4).build(question: "suite ?", passages: passages, history: history)
        #expect(prompt.messages.map(\.content).dropFirst().prefix(4) == ["q7", "a8", "q9", "a10"])
        #expect(prompt.text.contains("Utilisateur : q9") && prompt.text.contains("Assistant : a10"))
    }
}
