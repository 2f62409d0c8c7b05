import Foundation
import Index

/// Builds the French RAG prompt: numbered passages with file and page, and the rules
/// (answer only from them, cite [n], say plainly when they do not contain the answer,
/// answer in the question's language).
public struct PromptBuilder: Sendable {
    /// Each passage is cut to this many characters.
    public var maxPassageCharacters: Int
    /// How many previous turns of history go into the messages.
    public var maxHistoryMessages: Int

    public init(maxPassageCharacters: Int = 1_500, maxHistoryMessages: Int = 6) {
        self.maxPassageCharacters = maxPassageCharacters
        self.maxHistoryMessages = maxHistoryMessages
    }

    public static let systemInstructions = """
    Tu es un assistant qui répond aux questions à partir d'extraits de documents.
    Règles :
    1. Réponds uniquement à partir des extraits numérotés fournis, sans rien inventer.
    2. Cite les extraits utilisés avec leur numéro entre crochets, par exemple [1] ou [1, 3].
    3. Si les extraits ne contiennent pas la réponse, dis-le clairement : « Les documents ne permettent pas de répondre à cette question. »
    4. Réponds dans la langue de la question (en français si la question est en français), de façon claire et concise.
    """

    /// "connaissances.txt" or "document.pdf, page 3".
    public static func label(_ p: SearchHit) -> String {
        if let page = p.page { return "\(p.file), page \(page)" }
        return p.file
    }

    /// The numbered passages block.
    /// Joins the lines of each paragraph (PDF text keeps the page's line breaks), keeping blank
    /// lines between paragraphs: models then copy sentences whole instead of line-wrapped.
    public static func unwrapLines(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { paragraph in
            paragraph.split(separator: "\n", omittingEmptySubsequences: true)
                .map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        }.joined(separator: "\n\n")
    }

    public func passagesBlock(_ passages: [SearchHit]) -> String {
        passages.enumerated().map { i, p in
            var text = Self.unwrapLines(p.text.trimmingCharacters(in: .whitespacesAndNewlines))
            if text.count > maxPassageCharacters { text = String(text.prefix(maxPassageCharacters)) + "…" }
            return "[\(i + 1)] (\(Self.label(p)))\n\(text)"
        }.joined(separator: "\n\n")
    }

    public func build(question: String, passages: [SearchHit], history: [ChatMessage] = []) -> Prompt {
        let block = passagesBlock(passages)
        let user = """
        Extraits :

        \(block)

        Question : \(question)
        """
        let past = history.filter { $0.role != .system && !$0.content.isEmpty }.suffix(maxHistoryMessages)
        let messages = [ChatMessage.system(Self.systemInstructions)] + past + [ChatMessage.user(user)]

        var text = Self.systemInstructions + "\n\n"
        if !past.isEmpty {
            text += "Conversation précédente :\n"
            for m in past { text += (m.role == .user ? "Utilisateur : " : "Assistant : ") + m.content + "\n" }
            text += "\n"
        }
        text += user + "\n\nRéponse :"
        return Prompt(messages: messages, text: text)
    }

    // MARK: - Completion-style prompt (base models without a chat template)

    /// Shapes of the completion prompt for base models (tried and measured; see `completion`).
    public enum CompletionStyle: String, Sendable, CaseIterable {
        /// The rules, the numbered passages, `Fin des extraits. Question : …`, then `Réponse :`.
        case instructions
        /// A worked example (passages, question, cited answer) then the real ones: the model
        /// continues the pattern.
        case oneShot = "one-shot"
        /// The passages as a document, then a question/answer pair the model completes.
        case document
        /// The numbered passages (no file labels, no rules), `Question : …`, `Réponse :`: the
        /// shortest prompt, for small base models that ignore rules anyway.
        case compact
    }

    /// The style used by default (chosen by measurement on the three test questions and a few
    /// more: with Gemma 3 270M, the rules of `instructions` cost 150 tokens and change nothing).
    public static let defaultCompletionStyle = CompletionStyle.compact

    /// Where a base model's answer ends: the start of the next block of the pattern.
    public static let completionStopStrings = ["\n\n", "\nQuestion", "\nExtraits", "\nRéponse", "\n["]

    static let exampleBlock = """
    Extraits :

    [1] (guide.txt)
    Le pain de campagne se cuit au four à 240 °C pendant 40 minutes. On le laisse refroidir sur une grille.

    [2] (guide.txt)
    La pâte à pain lève deux heures dans un endroit tiède.

    Question : Comment cuire le pain de campagne ?
    Réponse : On cuit le pain de campagne au four à 240 °C pendant 40 minutes, puis on le laisse refroidir sur une grille [1].
    """

    /// The completion-style RAG prompt: text the model continues with an answer drawn from the
    /// passages, in French, citing [n].
    /// `bestLast` (compact style): the passages are written in reverse order, keeping their
    /// numbers, so the best-ranked one is the closest to the answer.
    public func completion(question: String, passages: [SearchHit],
                           style: CompletionStyle = PromptBuilder.defaultCompletionStyle, bestLast: Bool = false) -> String {
        let block = passagesBlock(passages)
        switch style {
        case .instructions:
            return Self.systemInstructions + "\n\nExtraits :\n\n" + block + "\n\nFin des extraits. Question : " + question + "\nRéponse :"
        case .oneShot:
            return "Réponses en français à partir des extraits numérotés, avec le numéro de l'extrait cité entre crochets.\n\n"
                + Self.exampleBlock + "\n\nExtraits :\n\n" + block + "\n\nQuestion : " + question + "\nRéponse :"
        case .compact:
            var lines = passages.enumerated().map { i, p in
                "[\(i + 1)] " + Self.unwrapLines(p.text.trimmingCharacters(in: .whitespacesAndNewlines))
                    .replacingOccurrences(of: "\n\n", with: " ")
            }
            if bestLast { lines.reverse() }
            return "Extraits :\n\n" + lines.joined(separator: "\n\n") + "\n\nQuestion : " + question + "\nRéponse :"
        case .document:
            return "Documents :\n\n" + block + "\n\nD'après les documents ci-dessus, voici la réponse à la question « "
                + question + " », avec les numéros des documents entre crochets :\n"
        }
    }

    // MARK: - Answer opening from the question's form

    /// The first words of an answer, rewritten from the question's form, for base models that
    /// answer better when the answer is started for them (they then go on drawing from the
    /// passages): "Quel est le X ?" → "Le X", "Quelles sont les X ?" → "Les X",
    /// "Qu'est-ce que le X ?" → "Le X est", "Comment <infinitive> X ?" → "Pour <infinitive> X, on".
    /// Nil for other forms (the model opens the answer itself). (Measured: "…, il faut" leads the
    /// 270M model into an invented list; a verb after "Les X" into "sont les suivantes :".)
    public static func answerOpening(for question: String) -> String? {
        var q = question.trimmingCharacters(in: .whitespacesAndNewlines)
        while let l = q.last, "?!. ".contains(l) { q.removeLast() }
        q = q.replacingOccurrences(of: "’", with: "'")
        guard q.count >= 6 else { return nil }
        func cap(_ s: Substring) -> String { s.prefix(1).uppercased() + s.dropFirst() }
        if let m = q.wholeMatch(of: /(?i)(quel|quelle|quels|quelles)\s+(est|sont)\s+((le|la|les|l'|un|une|des)\s*.+)/) {
            return cap(m.output.3)
        }
        if let m = q.wholeMatch(of: /(?i)qu'est-ce\s+qu(e\s+|')((le|la|les|l'|un|une|des)\s*.+)/) {
            return cap(m.output.2) + " est"
        }
        if let m = q.wholeMatch(of: /(?i)comment\s+(\p{L}+(er|ir|re))\s+(.+)/) {
            return "Pour " + m.output.1.lowercased() + " " + m.output.3 + ", on"
        }
        return nil
    }
}
