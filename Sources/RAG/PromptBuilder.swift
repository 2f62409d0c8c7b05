import Foundation

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
    public static func label(_ p: RetrievedPassage) -> String {
        if let page = p.page { return "\(p.file), page \(page)" }
        return p.file
    }

    /// The numbered passages block.
    public func passagesBlock(_ passages: [RetrievedPassage]) -> String {
        passages.enumerated().map { i, p in
            var text = p.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.count > maxPassageCharacters { text = String(text.prefix(maxPassageCharacters)) + "…" }
            return "[\(i + 1)] (\(Self.label(p)))\n\(text)"
        }.joined(separator: "\n\n")
    }

    public func build(question: String, passages: [RetrievedPassage], history: [ChatMessage] = []) -> Prompt {
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
}
