import Foundation
import Index
import TextAnalysis

/// Answers without a language model: the passages' sentences closest to the question, quoted
/// with their `[n]` citation, in French.
///
/// Score of a sentence = IDF-weighted share of the question's content words it contains (accent-
/// and case-folded, French stop words removed, stemmed as keyword search stems them), plus a
/// small bonus for better ranked passages; with an `embed` hook, blended with the cosine
/// similarity of embeddings.
public struct ExtractiveBackend: AnswerBackend {
    public let name = "extractive"
    public var info: String { "extractive (best \(maxQuotes) sentences)" }

    /// How many sentences to quote at most.
    public var maxQuotes: Int
    /// Sentences below this share of the best sentence's score are not quoted.
    public var relativeCutoff: Double
    /// Optional sentence embedding (e.g. the index's encoder), L2-normalised vectors.
    public var embed: (@Sendable ([String]) async throws -> [[Float]])?
    /// Weight of the embedding cosine in [0, 1] when `embed` is set. 0.85: on the French
    /// development set (`ragchat bench answers --set dev-fr --backends extractive`, e5 with the
    /// question as query and sentences as passages) the key fact was stated for 47, 49, 55 and 52
    /// of 114 questions at 0.5, 0.7, 0.85 and 1; the apple-pie set agreed (21, 25, 27, 27 of 37):
    /// e5 recognises the answering sentence better than shared words do, and the words still break ties.
    public var embeddingWeight: Double
    /// Added to an option's entry when the question asks for an option.
    static let optionEntryBonus = 0.05
    /// Added to a sentence showing a command when the question asks how to do something or for a
    /// tool. Compared on the three sets (`ragchat bench answers --set dev-fr|man-fr|apple-fr
    /// --backends extractive`, correctly cited): none 65 / 18 / 29, 0.03 66 / 18 / 29, 0.05 the
    /// same; counting option words (" --") as commands too lost manual-page answers (0.03: 68 / 17 / 29).
    static let commandExampleBonus = 0.03
    /// Added to an entry headed by a command or option the guess names.
    static let guessEntryBonus = 0.05
    /// The similarity (e5) above which an FAQ question heading in the passages is taken for the
    /// question asked, and its section's sentences gain the excess.
    static let faqQuestionSimilarity = 0.88
    /// A series' first member brings up to this many further members.
    public var seriesLimit = 8
    /// A quoted sentence ending in ":" brings up to this many following sentences (list items)…
    public var listItemsLimit = 6
    /// …within this many characters.
    public var listCharactersLimit = 700
    /// A procedure's answer quotes up to this many numbered steps…
    public var stepsLimit = 20
    /// …within this many characters.
    public var stepsCharactersLimit = 3400

    /// The numbered lines (`1.`, `2)`) of a passage, in order and joined by line breaks, when it
    /// has at least three; the line introducing them (ending with `:`) comes first, and before it
    /// the bulleted list just above the steps (what they need) with its heading.
    public static func numberedSteps(in text: String, limit: Int = 20, characters: Int = 3400) -> String? {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func isStep(_ line: String) -> Bool {
            let digits = line.prefix(while: \.isNumber)
            guard !digits.isEmpty, digits.count <= 2 else { return false }
            let rest = line.dropFirst(digits.count)
            // "3. Mélangez…", not a section number ("3.2 La compote") or a figure ("3.5 kg"), and
            // a sentence, not a numbered heading ("4. Les secrets d'une bonne tarte").
            return (rest.hasPrefix(". ") || rest.hasPrefix(") ")) && rest.dropFirst(2).first?.isLetter == true
                && line.last.map { ".!?…)»".contains($0) } == true
        }
        guard let first = lines.firstIndex(where: isStep) else { return nil }
        var out: [String] = []
        // What the steps need, when a bulleted list comes just before them (ingredients, packages
        // to install), with its heading; at most one line (a sub-heading) between it and step 1.
        var end = first
        while end > 0, lines[end - 1].isEmpty { end -= 1 }
        if end > 0, !isListItem(lines[end - 1]), lines[end - 1].count <= 100 { end -= 1 }
        // Up to three such lists in a row, each under its own short heading ("Pour la pâte :").
        var start = end
        for _ in 0..<3 {
            var groupStart = start
            while groupStart > 0, isListItem(lines[groupStart - 1]) || lines[groupStart - 1].isEmpty { groupStart -= 1 }
            guard groupStart < start, lines[groupStart..<start].contains(where: isListItem) else { break }
            if groupStart > 0, lines[groupStart - 1].count <= 100, !isStep(lines[groupStart - 1]) { groupStart -= 1 }
            start = groupStart
        }
        if start < end { out.append(contentsOf: lines[start..<end].filter { !$0.isEmpty }) }
        if first > 0, lines[first - 1].hasSuffix(":"), !isListItem(lines[first - 1]) { out.append(lines[first - 1]) }
        var count = 0, length = out.joined().count
        for line in lines[first...] where isStep(line) {
            guard count < limit, length + line.count <= characters || count == 0 else { break }
            out.append(line)
            count += 1
            length += line.count
        }
        return count >= 3 ? out.joined(separator: "\n") : nil
    }

    public init(maxQuotes: Int = 3, relativeCutoff: Double = 0.5,
                embed: (@Sendable ([String]) async throws -> [[Float]])? = nil, embeddingWeight: Double = 0.85) {
        self.maxQuotes = maxQuotes
        self.relativeCutoff = relativeCutoff
        self.embed = embed
        self.embeddingWeight = embeddingWeight
    }

    /// A quoted sentence and the 1-based number of its passage.
    public struct Quote: Sendable, Equatable {
        public var sentence: String
        public var passage: Int
        public var score: Double

        package init(sentence: String, passage: Int, score: Double) {
            self.sentence = sentence
            self.passage = passage
            self.score = score
        }
    }

    public static let intro = "D'après les documents :"
    public static let noMatch = "Les documents ne répondent pas directement à cette question."

    /// A sentence of a passage, or a line of a command or table block set apart from the prose.
    package struct PassageSentence: Equatable {
        package var text: String
        /// False for a heading and for a line of a command block: those are quoted only as part
        /// of another quote (the block with the sentence before it).
        package var isQuotable = true
        /// For a table row: the table's first row (its column names).
        package var tableHeader: String?
        /// For the last sentence of a paragraph: the block right after it (commands, a table,
        /// possibly under a one-line caption), at most `exampleLinesLimit` lines.
        package var example: String?
        /// For a sentence opening on a pronoun or demonstrative ("Ce mot est la contraction…",
        /// "Il doit comporter…"): the one or two sentences before it in its paragraph, which say
        /// what it is about; it is scored and quoted with them.
        package var antecedent: String?
        /// A whole definition-list entry (a term and its description), quotable even when short
        /// or unpunctuated, as manual pages write them.
        package var isEntry = false
        /// The question heading of the section the sentence is in (an FAQ's "9.6. J'ai plusieurs
        /// machines ; comment puis-je télécharger les mises à jour seulement une fois ?"), when
        /// the passage holds it: the section is that question's answer.
        package var sectionQuestion: String?
        /// A prose sentence after the first of its paragraph (it goes on with what the one before said).
        package var continuesParagraph = false
    }

    /// A bulleted list item ("- ", "• ", "* ", "– ").
    static func isListItem(_ line: String) -> Bool { ["- ", "• ", "* ", "– "].contains { line.hasPrefix($0) } }

    /// A paragraph that is one question of at most 200 characters: an FAQ's heading.
    static func isQuestionHeading(_ lines: [String]) -> Bool {
        lines.count == 1 && lines[0].hasSuffix("?") && lines[0].count <= 200
    }

    /// First words (folded) that refer to the sentence before.
    static let anaphors: Set<String> = ["il", "ils", "elle", "elles", "ce", "cet", "cette", "ces", "cela", "ceci", "ca",
                                        "celui", "celle", "celles", "ceux", "son", "sa", "ses", "leur", "leurs"]

    static func opensWithAnaphor(_ sentence: String) -> Bool {
        FrenchText.words(sentence).first.map(anaphors.contains) ?? false
    }

    /// A block line: a shell prompt (`$ `, `# `), a table row (`a | b`), or a line without final
    /// punctuation dense in code characters (paths, options, assignments, braces).
    static func isBlockLine(_ line: String) -> Bool {
        if line.hasPrefix("$ ") || line.hasPrefix("# ") || line.contains(" | ") { return true }
        // A synopsis ("cp [OPTION]... SOURCE... RÉPERTOIRE"): its "..." is notation, not an ending.
        if line.hasSuffix("...") && line.contains("[") && line.contains("]") { return true }
        if let last = line.last, ".!?…:;»".contains(last) { return false }
        let codeCharacters = line.filter { "=/{}\\<>$~|[]();".contains($0) }.count + line.components(separatedBy: " -").count - 1
        return codeCharacters >= 2 && FrenchText.words(line).count <= 12
    }

    /// The term line of a definition list — an option (`-s, --silent`, `--jail=user,group`) or a
    /// setting with its argument (`resolution num`, `relative-includes bool`), as in manual pages
    /// and option references — when the line after it (`next`) opens its description.
    package static func isTermLine(_ line: String, next: String) -> Bool {
        guard line.count <= 60, let last = line.last, !".!?…:;»,".contains(last) else { return false }
        // An option; its description may start in lower case (manual pages: "-f, --force" then
        // "ignorer les fichiers inexistants…").
        if opensWithOption(line) { return true }
        guard next.first?.isUppercase == true else { return false }
        // A setting: up to three lower-case words, none of them a French function word (a wrapped
        // prose line such as "les paquets fournis par" is not a term).
        let words = line.split(separator: " ")
        guard (1...3).contains(words.count), line.first?.isLowercase == true else { return false }
        return words.allSatisfy { w in
            w.allSatisfy { $0.isLetter || $0.isNumber || "-_.=,<>".contains($0) } && !FrenchText.stopWords.contains(FrenchText.fold(String(w)))
        }
    }

    /// A name and what it is, as a manual page's NAME section and glossaries write it: one or more
    /// names (`df`, `gzip, gunzip, zcat`) without spaces, a dash set apart by spaces, a description
    /// (`nohup  -  Exécuter une commande…`).
    package static func isNameLine(_ line: String) -> Bool { nameLineNames(line) != nil }

    /// The names a NAME line gives (`gzip, gunzip, zcat - …` → gzip, gunzip, zcat); nil for
    /// another line.
    static func nameLineNames(_ line: String) -> [String]? {
        let parts = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let dash = parts.firstIndex(where: { ["-", "—", "–", "\\-"].contains($0) }), dash > 0, dash + 1 < parts.count else { return nil }
        let names = parts[..<dash].enumerated().map { index, name in index + 1 < dash ? (name.hasSuffix(",") ? name.dropLast() : "") : name[...] }
        guard names.count <= 4, parts[dash + 1].first?.isLetter == true else { return nil }
        let valid = names.allSatisfy { word in
            guard let first = word.first, first.isLetter || first.isNumber else { return false }
            return word.allSatisfy { $0.isLetter || $0.isNumber || "._+-".contains($0) }
        }
        return valid ? names.map(String.init) : nil
    }

    /// A line in capitals (at least two letters, no lower-case letter, no final punctuation, at
    /// most 40 characters): a section heading.
    static func isCapitalHeading(_ line: String) -> Bool {
        line.count <= 40 && line.filter(\.isLetter).count >= 2 && !line.contains(where: \.isLowercase)
            && line.last.map { !".!?…:;»),".contains($0) } == true
    }

    /// Whether a line starts with a command-line option (`-f`, `--force`), not a bullet (`- item`).
    static func opensWithOption(_ line: String) -> Bool {
        guard line.first == "-", let second = line.dropFirst().first else { return false }
        return second == "-" ? line.dropFirst(2).first?.isLetter == true : second.isLetter || second.isNumber
    }

    /// A group of a paragraph's lines: prose, a definition-list entry, or a heading line.
    enum LineGroupKind { case prose, entry, heading }

    /// The lines of a paragraph grouped into definition-list entries (a term line and the lines of
    /// its description, up to the next term line or a heading); lines before the first term, and
    /// after a heading, are prose groups. A paragraph without term lines is one prose group.
    static func definitionEntries(_ lines: [String]) -> [(lines: [String], kind: LineGroupKind)] {
        var groups: [(lines: [String], kind: LineGroupKind)] = []
        for (i, line) in lines.enumerated() {
            let afterSentence = i == 0 || lines[i - 1].last.map { ".!?…:;»)".contains($0) } == true
            let startsEntry = i + 1 < lines.count && isTermLine(line, next: lines[i + 1]) && afterSentence
            // A short capitalised line without final punctuation, between a finished sentence and
            // a line that opens another, is a heading (PDF text has no blank line around it): it
            // ends the entry above. (A manual page's last description line, unpunctuated, is not.)
            let isHeading = afterSentence && i > 0 && i + 1 < lines.count && line.count <= 60
                && line.first?.isUppercase == true && lines[i + 1].first?.isUppercase == true
                && line.last.map { !".!?…:;»),".contains($0) } == true
            if isHeading, groups.last?.kind == .entry {
                groups.append(([line], .heading))
            } else if startsEntry || groups.isEmpty || groups.last?.kind == .heading {
                // A paragraph that opens on an option line holds the term and its description,
                // maybe wrapped ("-i     demander une confirmation avant chaque effacement",
                // "-S trier selon la taille des fichiers en commençant par le plus ⏎ gros").
                let isEntry = startsEntry || (i == 0 && opensWithOption(line))
                groups.append(([line], isEntry ? .entry : .prose))
            } else {
                groups[groups.count - 1].lines.append(line)
            }
        }
        return groups
    }

    /// The passage cut paragraph by paragraph (blank lines), so that a command or table set apart
    /// from the prose is neither glued to the sentences around it nor lost: each paragraph's last
    /// sentence carries the block that follows it. A short definition-list entry (an option and
    /// its description, at most `entryCharactersLimit`) is one unit: the description's later
    /// sentences ("La valeur par défaut est 101.", "Ceci est équivalent à -lERROR.") belong to
    /// the term, and a quote of the description alone would not name it.
    package static func passageSentences(_ text: String, exampleLinesLimit: Int = 8, exampleCharactersLimit: Int = 600,
                                 entryCharactersLimit: Int = 400) -> [PassageSentence] {
        // A heading in capitals on the paragraph's first line (a manual page's "SYNOPSIS",
        // "DESCRIPTION", "VOIR AUSSI") is a paragraph of its own, not the start of a sentence.
        let paragraphs = text.components(separatedBy: "\n\n").flatMap { paragraph -> [[String]] in
            let lines = paragraph.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard lines.count > 1, isCapitalHeading(lines[0]) else { return [lines] }
            return [[lines[0]], Array(lines.dropFirst())]
        }.filter { !$0.isEmpty }
        func isBlock(_ lines: [String]) -> Bool { lines.allSatisfy(isBlockLine) }
        func isCaption(_ lines: [String]) -> Bool {
            lines.count == 1 && (lines[0].hasPrefix("Tableau ") || lines[0].hasPrefix("Table ")) && lines[0].count <= 120
        }
        var out: [PassageSentence] = []
        var question: String?   // the FAQ question whose answer the paragraphs are
        for (i, lines) in paragraphs.enumerated() {
            let firstUnit = out.count
            defer { for j in firstUnit..<out.count where out[j].isQuotable { out[j].sectionQuestion = question } }
            if isQuestionHeading(lines) {
                question = String(lines[0].drop { $0.isNumber || $0 == "." }).trimmingCharacters(in: .whitespaces)
                out.append(PassageSentence(text: lines[0], isQuotable: false))
                continue
            }
            if isBlock(lines) {
                // A table row is a candidate like a sentence (it often holds the fact: "alien | … |
                // convertisseur de paquets étrangers"), quoted under the column names.
                for line in lines {
                    let isRow = line.contains(" | ") && line != lines[0]
                    out.append(PassageSentence(text: line, isQuotable: isRow, tableHeader: isRow && lines[0].contains(" | ") ? lines[0] : nil))
                }
                continue
            }
            if lines.count <= 3, isNameLine(lines[0]), lines.joined(separator: " ").count <= 300 {
                // What a manual page's NAME says the command is for ("df - Indiquer l'espace
                // occupé par les systèmes de fichiers"): the answer to "which command…".
                out.append(PassageSentence(text: lines.joined(separator: " "), isEntry: true))
                continue
            }
            if lines.count == 1, let last = lines[0].last, !".!?…:;»)".contains(last), lines[0].count <= 120,
               !opensWithOption(lines[0]) {
                out.append(PassageSentence(text: lines[0], isQuotable: false))   // a heading ("9.8.5. Éclater un gros fichier")
                question = nil
                continue
            }
            for group in definitionEntries(lines) {
                let joined = group.lines.joined(separator: " ")
                if group.kind == .heading {
                    out.append(PassageSentence(text: joined, isQuotable: false))
                    continue
                }
                if group.kind == .entry, joined.count <= entryCharactersLimit {
                    out.append(PassageSentence(text: joined, isEntry: true))
                    continue
                }
                let sentences = TextTools.sentences(group.lines.joined(separator: "\n")).map {
                    $0.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
                }
                for (k, sentence) in sentences.enumerated() {
                    var unit = PassageSentence(text: sentence)
                    unit.continuesParagraph = k > 0
                    if k > 0, Self.opensWithAnaphor(sentence) {
                        let before = k > 1 && Self.opensWithAnaphor(sentences[k - 1]) ? sentences[(k - 2)..<k] : sentences[(k - 1)..<k]
                        unit.antecedent = before.joined(separator: " ")
                    }
                    out.append(unit)
                }
            }
            // The block after this paragraph, maybe under a caption ("Tableau 5.2. Liste des…").
            var next = i + 1
            var example: [String] = []
            if next < paragraphs.count, isCaption(paragraphs[next]), next + 1 < paragraphs.count, isBlock(paragraphs[next + 1]) {
                example = paragraphs[next]
                next += 1
            }
            guard next < paragraphs.count, isBlock(paragraphs[next]), !out.isEmpty else { continue }
            var length = example.joined().count
            for line in paragraphs[next] {
                guard example.count < exampleLinesLimit, length + line.count <= exampleCharactersLimit || example.isEmpty else { break }
                example.append(line)
                length += line.count
            }
            out[out.count - 1].example = example.joined(separator: "\n")
        }
        return out
    }

    /// A quotable sentence (with its antecedent), its 1-based passage, its place among the
    /// passage's `passageSentences`, and its content words as compared with the question's.
    typealias Candidate = (sentence: String, passage: Int, position: Int, terms: Set<String>)

    /// The best sentences, best first. `guess`: a guess at the answer written for retrieval
    /// (`QueryExpander`), never quoted: an entry headed by a command or option it names gains
    /// `guessEntryBonus`. (Its words and its e5 similarity were also tried in the sentence score:
    /// wrong guesses then cost more answers than right ones gained; BENCHMARKS.md.)
    public func quotes(question: String, passages: [SearchHit], guess: String? = nil) async throws -> [Quote] {
        let definition = Self.optionDefinition(question: question, passages: passages)
        var candidates: [Candidate] = []
        let questionIsEnglish = TextTools.isLikelyEnglish(question)
        var sentencesByPassage: [[PassageSentence]] = []
        for (pi, p) in passages.enumerated() {
            let units = Self.passageSentences(p.text)
            sentencesByPassage.append(units)
            for (si, unit) in units.enumerated() where unit.isQuotable {
                let sentence = unit.antecedent.map { $0 + " " + unit.text } ?? unit.text
                let wordCount = FrenchText.words(sentence).count
                // Skip headings and fragments: short lines without final punctuation (a definition
                // entry is whole: a term and a few words of description).
                let punctuated = sentence.last.map { ".!?…»:;)".contains($0) } ?? false
                guard unit.isEntry ? wordCount >= 3 : wordCount >= 4 && (punctuated || wordCount >= 10) else { continue }
                // A question (an FAQ's heading) answers nothing; an untranslated English paragraph
                // in a French document does not answer a French question.
                guard !sentence.hasSuffix("?"), questionIsEnglish || !TextTools.isLikelyEnglish(sentence) else { continue }
                candidates.append((sentence, pi + 1, si, Set(FrenchText.contentWords(sentence).map(Self.matchForm))))
            }
        }
        guard !candidates.isEmpty else { return definition.map { [$0] } ?? [] }

        let questionWords = Set(FrenchText.contentWords(question))
        var questionTerms = Set(questionWords.map(Self.matchForm))
        // "Comment faire / préparer / réussir X ?" asks for the recipe and its steps.
        let questionWordList = FrenchText.words(question)
        let folded = Set(questionWordList)
        if folded.contains("comment"), !folded.isDisjoint(with: ["faire", "preparer", "realiser", "cuisiner", "reussir"]) {
            questionTerms.formUnion(["recette", "etape"].map(Self.matchForm))
        }
        // "Quelle option…" names the kind of answer, not its topic: an option's entry does not
        // say "option", while prose around it does.
        let asksForOption = !folded.isDisjoint(with: ["option", "options"])
        if asksForOption { questionTerms.subtract(["option", "options"].map(Self.matchForm)) }
        var df: [String: Int] = [:]
        for c in candidates { for t in c.terms where questionTerms.contains(t) { df[t, default: 0] += 1 } }
        let n = Double(candidates.count)
        // Squared IDF: a rare question word ("variantes") outweighs two everywhere-words ("tarte", "pommes").
        func idf(_ t: String) -> Double { let v = log(1 + n / Double(max(1, df[t] ?? 0))); return v * v }
        let total = questionTerms.reduce(0) { $0 + idf($1) }

        var scores = candidates.map { c -> Double in
            guard total > 0 else { return 0 }
            let matched = c.terms.intersection(questionTerms).reduce(0) { $0 + idf($1) }
            return matched / total
        }
        // FAQ sections among the candidates: their questions are compared with the asked one too.
        var headings: [String] = []
        for c in candidates {
            if let h = sentencesByPassage[c.passage - 1][c.position].sectionQuestion, !headings.contains(h) { headings.append(h) }
        }
        if let embed, embeddingWeight > 0 {
            let vectors = try await embed([question] + candidates.map(\.sentence) + headings)
            if vectors.count == candidates.count + 1 + headings.count {
                let q = vectors[0]
                func cosine(_ v: [Float]) -> Double {
                    var dot: Float = 0
                    for j in 0..<min(q.count, v.count) { dot += q[j] * v[j] }
                    return Double(max(0, dot))
                }
                for i in candidates.indices {
                    scores[i] = (1 - embeddingWeight) * scores[i] + embeddingWeight * cosine(vectors[i + 1])
                }
                // The FAQ entry asking what the user asks is answered by its own section: the
                // sentences under the most similar question heading gain its similarity above
                // `faqQuestionSimilarity` (the right heading scored 0.89–0.96 for dev-fr's FAQ
                // questions it was first for; 0.85 and 0.88 compared in BENCHMARKS.md).
                let similarities = headings.indices.map { cosine(vectors[candidates.count + 1 + $0]) }
                if let best = similarities.indices.max(by: { similarities[$0] < similarities[$1] }),
                   similarities[best] > Self.faqQuestionSimilarity {
                    for (i, c) in candidates.enumerated() where sentencesByPassage[c.passage - 1][c.position].sectionQuestion == headings[best] {
                        scores[i] += similarities[best] - Self.faqQuestionSimilarity
                    }
                }
            }
        }
        let questionNumbers = questionTerms.filter { $0.allSatisfy(\.isNumber) }
        let guessCode = guess.map(Self.guessedCode) ?? []
        let asksHowTo = questionWordList.prefix(3).contains("comment")
            || (!folded.isDisjoint(with: ["quel", "quelle"]) && !folded.isDisjoint(with: ["commande", "outil", "programme", "utilitaire"]))
        var ranked: [(quote: Quote, candidate: Int)] = []
        for (i, c) in candidates.enumerated() where scores[i] > 0 {
            // Small tie-breakers: better passages first, earlier sentences first. The passage's
            // weight (0.02 / rank) was compared on both sets (`ragchat bench answers --set
            // dev-fr|apple-fr --backends extractive`, key fact stated): 0 → 59/114 and 28/37,
            // 0.02 → 62 and 29, 0.05 → 61 and 28, 0.1 → 52 and 28. Heavier, it quotes the first
            // passage's near-misses over the answering sentence of the second.
            let bonus = 0.02 / Double(c.passage) + 0.01 / Double(c.position + 1)
            var sentence = c.sentence
            let unit = sentencesByPassage[c.passage - 1][c.position]
            if let header = unit.tableHeader {
                sentence = header + "\n" + sentence
            } else if let example = unit.example {
                // The command or table the sentence introduces is usually the answer itself.
                sentence += "\n" + example
            } else if sentence.hasSuffix(":") || Self.announcesWhatIsAsked(sentence, asked: questionWords) {
                // A sentence announcing a list ("Voici les principales variantes :", "On distingue
                // deux types de commentaires." for "Quels sont les deux types…") brings its items.
                let following = sentencesByPassage[c.passage - 1].dropFirst(c.position + 1).prefix(listItemsLimit).map(\.text)
                var items: [String] = []
                var length = sentence.count
                for item in following {
                    length += item.count
                    if length > listCharactersLimit && !items.isEmpty { break }
                    items.append(item)
                }
                if !items.isEmpty { sentence += "\n" + items.joined(separator: "\n") }
            }
            // A number the question names ("Debian 12", "port 80") is a precise referent: a
            // sentence holding all of them is about the thing asked (0.03 and 0.08 gave the same
            // answers on both sets: +1 on dev-fr, none lost).
            let numberBonus = !questionNumbers.isEmpty && questionNumbers.isSubset(of: c.terms) ? 0.03 : 0
            // A question asking for an option is answered by an option's entry (its term and
            // description) rather than by prose that mentions the same words.
            let optionBonus = asksForOption && unit.isEntry && Self.opensWithOption(unit.text) ? Self.optionEntryBonus : 0
            // A how-to question ("Comment passer un fichier de Latin-1 en UTF-8 ?", "Quel outil…")
            // in technical documentation is answered by a command: a sentence that shows one (a
            // shell prompt, or the command block set apart after it) comes before one that only
            // talks about the subject.
            let commandBonus = asksHowTo && (unit.example != nil || sentence.contains("$ ") || sentence.contains("# "))
                ? Self.commandExampleBonus : 0
            // An entry headed by what the guess names: a manual page's NAME line for the command
            // it names (`du`), the option it names (`ls -a`) in that command's page.
            let guessBonus: Double = unit.isEntry && Self.entryNamesGuessedCode(unit.text, file: passages[c.passage - 1].file, code: guessCode)
                ? Self.guessEntryBonus : 0
            let bonuses: Double = bonus + numberBonus + optionBonus + commandBonus + guessBonus
            ranked.append((Quote(sentence: sentence, passage: c.passage, score: scores[i] + bonuses), i))
        }
        ranked.sort { $0.quote.score > $1.quote.score }
        guard let best = ranked.first?.quote.score else { return definition.map { [$0] } ?? [] }
        var seen = Set<String>()
        var out: [Quote] = []
        var quoted = ""   // folded text already quoted, so list items are not quoted twice
        // A question about a command-line option is answered by the option's definition first.
        if let definition {
            out.append(Quote(sentence: definition.sentence, passage: definition.passage, score: best + 1))
            quoted += "\n" + Self.quoteKey(definition.sentence)
        }
        // A list question is answered with the sub-section headings of the best passage's section.
        if QuestionForm(question) == .enumeration, let outline = passages.first?.outline, outline.count >= 3 {
            let items = outline.prefix(stepsLimit).joined(separator: "\n")
            out.append(Quote(sentence: items, passage: 1, score: best + 1))
            quoted += "\n" + Self.quoteKey(items)
        }
        // A procedure is answered with the numbered steps of the best passage, in order.
        if QuestionForm(question) == .procedure, let steps = Self.numberedSteps(in: passages.first?.text ?? "",
                                                                               limit: stepsLimit, characters: stepsCharactersLimit) {
            out.append(Quote(sentence: steps, passage: 1, score: best + 1))
            quoted += "\n" + Self.quoteKey(steps)
        }
        for (rank, item) in ranked.enumerated() where item.quote.score >= best * relativeCutoff {
            var q = item.quote
            // The best sentence comes with the next one of its paragraph, which usually says how or
            // with what ("… il applique automatiquement tous les correctifs." then "Vous pouvez éviter
            // que les correctifs soient appliqués … avec l'option --skip-patches."). Compared on the
            // three sets (`ragchat bench answers --set dev-fr|man-fr|apple-fr --backends extractive`,
            // correctly cited): 66 / 18 / 29 → 68 / 19 / 30, none lost; answer length p50 dev-fr
            // 649 → 691, apple-fr 773 → 904 characters.
            let candidate = candidates[item.candidate]
            if rank == 0, q.sentence == candidate.sentence,
               let next = Self.followingSentence(of: candidate, in: candidates, units: sentencesByPassage) {
                q.sentence = next.contains(candidate.sentence) ? next : q.sentence + " " + next
            }
            let key = Self.quoteKey(q.sentence)
            guard !quoted.contains(key), seen.insert(key).inserted else { continue }
            // A sentence quoted with its antecedent, when the antecedent's first sentences end a quote
            // already taken (the best sentence and the one after it), goes on with that quote.
            if sentencesByPassage[q.passage - 1][candidate.position].antecedent != nil, q.sentence == candidate.sentence,
               let (earlier, rest) = Self.overlap(of: q, with: out) {
                out[earlier].sentence += " " + rest
                quoted += "\n" + Self.quoteKey(out[earlier].sentence)
                continue
            }
            quoted += "\n" + key
            // A sentence quoted with its antecedent replaces the antecedent quoted alone.
            if let earlier = out.firstIndex(where: { $0.passage == q.passage && key.contains(Self.quoteKey($0.sentence)) }) {
                out[earlier].sentence = q.sentence
                continue
            }
            out.append(q)
            if out.count == maxQuotes { break }
        }
        // A series ("Le premier secret…", "Le deuxième secret…", "Troisième secret : …"): its
        // first member, once quoted, brings the others in document order — the question asked for
        // "the secret" and the document gives five — unless the question names one of them.
        if Self.ordinals.allSatisfy({ !folded.contains($0) }),
           let index = out.firstIndex(where: { Self.seriesNoun(in: $0.sentence) != nil }),
           let noun = Self.seriesNoun(in: out[index].sentence) {
            let named = candidates.filter { c in
                let folded = Self.quoteKey(c.sentence)
                return Self.ordinals.dropFirst(2).contains { folded.contains("\($0) \(noun)") } && !quoted.contains(folded)
            }
            // a member once: not alone when it is also the antecedent of the next one
            let members = named.filter { c in
                let folded = Self.quoteKey(c.sentence)
                return !named.contains { $0.passage == c.passage && $0.position != c.position && Self.quoteKey($0.sentence).contains(folded) }
            }
            .sorted { ($0.passage, $0.position) < ($1.passage, $1.position) }
            .prefix(seriesLimit)
            // "le premier envoi … le dernier envoi" is no series: a second or third member must be there
            let counted = members.contains { c in
                let folded = Self.quoteKey(c.sentence)
                return Self.countingOrdinals.contains { folded.contains("\($0) \(noun)") }
            }
            if counted {
                let series = members.map { Quote(sentence: $0.sentence, passage: $0.passage, score: out[index].score) }
                out = Array(out[...index]) + series + out[(index + 1)...].prefix(max(0, maxQuotes - index - 1 - series.count))
            }
        }
        return out
    }

    /// A quote of the same passage that `q`'s first sentences end (`q` opens with them), and the
    /// rest of `q` after them.
    package static func overlap(of q: Quote, with quotes: [Quote]) -> (index: Int, rest: String)? {
        let parts = TextTools.sentences(q.sentence).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard parts.count > 1 else { return nil }
        for (index, earlier) in quotes.enumerated() where earlier.passage == q.passage {
            let key = quoteKey(earlier.sentence)
            for k in stride(from: parts.count - 1, through: 1, by: -1) where key.hasSuffix(quoteKey(parts[0..<k].joined(separator: " "))) {
                return (index, parts[k...].joined(separator: " "))
            }
        }
        return nil
    }

    /// The candidate sentence right after `c` in its paragraph (with `c` in it when it opens on an
    /// anaphor); none after a sentence that brings a command or table block.
    static func followingSentence(of c: Candidate, in candidates: [Candidate], units: [[PassageSentence]]) -> String? {
        let passageUnits = units[c.passage - 1]
        // A list item's next item is another answer, not the rest of this one.
        guard c.position + 1 < passageUnits.count, passageUnits[c.position + 1].continuesParagraph,
              passageUnits[c.position].example == nil, passageUnits[c.position].tableHeader == nil,
              !isListItem(passageUnits[c.position].text), !isListItem(passageUnits[c.position + 1].text) else { return nil }
        return candidates.first { $0.passage == c.passage && $0.position == c.position + 1 }?.sentence
    }

    /// What a guess names in code (`` `ls -a` ``, `` `tail -f journal` ``, a fenced block): each
    /// command with the options written after it. A fenced block's language line, `sudo` and a
    /// shell prompt are not commands; the commands of a pipeline or a list are each their own; an
    /// option written apart (`` `-a` ``) goes with the command named before it, and is dropped
    /// when none is (an option alone says nothing of which page defines it).
    package static func guessedCode(_ guess: String) -> [(command: String, options: Set<String>)] {
        var out: [(command: String, options: Set<String>)] = []
        let spans = guess.components(separatedBy: "`").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        for span in spans {
            var lines = span.split(whereSeparator: \.isNewline).map(String.init)
            if lines.count > 1, !lines[0].contains(" "), CommandOptions.named(in: lines[0]).isEmpty { lines.removeFirst() }   // "```bash"
            for command in lines.flatMap({ $0.components(separatedBy: CharacterSet(charactersIn: "|;&")) }) {
                var words = command.split(whereSeparator: \.isWhitespace).map(String.init)
                while let first = words.first, ["$", "#", "sudo"].contains(first) { words.removeFirst() }
                guard let first = words.first else { continue }
                let named = !opensWithOption(first)
                var options = Set<String>()
                for option in CommandOptions.named(in: words.dropFirst(named ? 1 : 0).joined(separator: " ")) {
                    options.insert(option)
                    // "-n5", "-la": the option letter with its value or a flag joined to it
                    if !option.hasPrefix("--"), option.count > 2 { options.insert(String(option.prefix(2))) }
                }
                if named {
                    out.append((FrenchText.fold(first), options))
                } else if !out.isEmpty {
                    out[out.count - 1].options.formUnion(options)
                }
            }
        }
        return out
    }

    /// Whether `entry` (a definition-list entry or a NAME line) is headed by what the guess names:
    /// the NAME line of a command it names, or an option it names with its command, in that
    /// command's page (`file` named after it, as manual pages are: "ls.1.txt").
    package static func entryNamesGuessedCode(_ entry: String, file: String, code: [(command: String, options: Set<String>)]) -> Bool {
        guard !code.isEmpty else { return false }
        if let names = nameLineNames(entry) {
            return code.contains { names.map(FrenchText.fold).contains($0.command) }
        }
        let defined = CommandOptions.defined(byLine: entry)
        guard !defined.isEmpty else { return false }
        return code.contains { CommandOptions.names(file: file, questionWords: [$0.command]) && !$0.options.isDisjoint(with: defined) }
    }

    /// A content word as question and sentences are compared: its Snowball stem, as keyword
    /// search has it, so that verb forms meet ("trie" ↔ "trier", "convertit" ↔ "convertir");
    /// numbers as they are. Compared with plural folding alone on the three sets (`ragchat bench
    /// answers --set S --backends extractive`): correctly cited dev-fr 63 → 65 of 114, apple-fr
    /// 28 → 29 of 37, man-fr 18 → 18 of 31.
    static func matchForm(_ w: String) -> String { w.allSatisfy(\.isNumber) ? w : KeywordAnalyzer.stemTerm(w) }

    /// A quote's text as compared with what is already quoted: folded, white space collapsed (an
    /// option's definition keeps its line break, the same entry quoted as one unit does not).
    static func quoteKey(_ text: String) -> String {
        FrenchText.fold(text).split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// Whether `sentence` announces a number of the things the question asks about: a count
    /// ("deux", "3", "plusieurs") before a plural noun the question also uses ("On distingue deux
    /// types de commentaires." for "Quels sont les deux types de commentaires ?"). The items follow
    /// it, in the next sentences; the announcement alone names none of them.
    /// `asked`: the question's `FrenchText.contentWords`.
    package static func announcesWhatIsAsked(_ sentence: String, asked: Set<String>) -> Bool {
        let counts: Set<String> = ["deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "plusieurs",
                                   "2", "3", "4", "5", "6", "7", "8", "9", "10"]
        let words = FrenchText.words(sentence)
        guard sentence.count <= 200, words.count >= 3 else { return false }
        for i in words.indices.dropLast() where counts.contains(words[i]) {
            // The noun right after the count, or after one adjective ("deux grands types").
            for noun in words[(i + 1)...].prefix(2) where noun.count > 3 && (noun.hasSuffix("s") || noun.hasSuffix("x")) {
                if asked.contains(FrenchText.pluralStem(noun)) { return true }
            }
        }
        return false
    }

    /// Ordinals as folded words; the first two start a series.
    static let ordinals = ["premier", "premiere", "deuxieme", "second", "seconde", "troisieme", "quatrieme", "cinquieme",
                           "sixieme", "septieme", "huitieme", "neuvieme", "dixieme", "dernier", "derniere"]
    /// The ordinals that count a series' later members ("deuxième" … "dixième"; not "dernier").
    static let countingOrdinals = ordinals.dropFirst(2).filter { !$0.hasPrefix("derni") }

    /// The noun after "premier"/"première" in a sentence ("Le premier secret…" → "secret").
    static func seriesNoun(in sentence: String) -> String? {
        let words = FrenchText.fold(sentence).split(whereSeparator: { !$0.isLetter })
        guard let i = words.firstIndex(where: { $0 == "premier" || $0 == "premiere" }), i + 1 < words.count,
              words[i + 1].count >= 3 else { return nil }
        return String(words[i + 1])
    }

    /// The whole answer text.
    public func render(question: String, passages: [SearchHit]) async throws -> String {
        try await pieces(question: question, passages: passages).joined()
    }

    func pieces(question: String, passages: [SearchHit], guess: String? = nil) async throws -> [String] {
        let quotes = try await quotes(question: question, passages: passages, guess: guess)
        if quotes.isEmpty {
            guard let first = passages.first,
                  let sentence = TextTools.sentences(first.text).first(where: { FrenchText.words($0).count >= 4 })
            else { return [Self.noMatch] }
            return [Self.noMatch + " Le passage le plus proche dit :\n",
                    "« \(sentence.replacingOccurrences(of: "\n", with: " ")) » [1]"]
        }
        var out = [Self.intro + "\n"]
        for (i, q) in quotes.enumerated() {
            out.append("« \(q.sentence) » [\(q.passage)]" + (i == quotes.count - 1 ? "" : "\n"))
        }
        return out
    }

    public func answer(_ input: AnswerInput, options: GenerationOptions) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    for piece in try await pieces(question: input.question, passages: input.passages, guess: input.expansion) {
                        try Task.checkCancellation()
                        continuation.yield(piece)
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
