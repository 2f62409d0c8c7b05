import Foundation
import TextAnalysis

// The passages an answer is written from, joined from neighbouring chunks (`chunkSpans`): the same
// for every implementation.

extension IndexStore {
    /// The hit's chunk joined with up to `after` following (and `before` preceding) chunks of the
    /// same document, their overlaps removed: a list or a procedure that the chunker cut in two
    /// reads whole. The result keeps the hit's id, scores and page.
    public func neighbourhood(of hit: SearchHit, before: Int = 0, after: Int = 1) throws -> SearchHit {
        let first = hit.ordinal - before, last = hit.ordinal + after
        guard before > 0 || after > 0, first <= last else { return hit }
        let spans = try chunkSpans(ofDocumentOf: hit.chunkID, ordinals: first...last)
        guard spans.count > 1 else { return hit }
        var merged = hit
        var text = String.UnicodeScalarView()
        var previous: (page: Int?, end: Int)?
        for span in spans {
            var scalars = Substring(span.text).unicodeScalars[...]
            if let previous {
                if previous.page == span.page, previous.end > span.start {
                    scalars = scalars.dropFirst(min(previous.end - span.start, scalars.count))
                } else {
                    text.append(contentsOf: "\n\n".unicodeScalars)
                }
            }
            text.append(contentsOf: scalars)
            previous = (span.page, span.end)
        }
        merged.text = String(text)
        return merged
    }
}

extension IndexStore {
    /// The hit with the chunk before it (when the hit starts inside a section) and the chunks after
    /// it, on the same page of the same document, up to `maxCharacters` (overlaps removed): a
    /// procedure or a list that the chunker cut reads whole. Keeps the hit's id, scores and page.
    public func section(of hit: SearchHit, maxCharacters: Int = 4800) throws -> SearchHit {
        // Sizes (in Unicode scalars) and pages of the chunk before the hit and of the four after it.
        let around = try chunkSpans(ofDocumentOf: hit.chunkID, ordinals: (hit.ordinal - 1)...(hit.ordinal + 4)).map {
            (ordinal: $0.ordinal, page: $0.page, size: $0.text.unicodeScalars.count)
        }
        var length = hit.text.count
        // The chunk just before, when the hit starts inside its section (a list cut after its
        // first items).
        var before = 0
        if let previous = around.first(where: { $0.ordinal == hit.ordinal - 1 }), previous.page == hit.page,
           !hit.context.isEmpty, !hit.text.hasPrefix(hit.context.components(separatedBy: " — ").last ?? "") {
            before = 1
            length += previous.size
        }
        var after = 0
        for chunk in around where chunk.ordinal > hit.ordinal {
            // Same page (a citation names the hit's page), within the length. Sub-sections are
            // not a limit: a procedure's steps often run across "3.2", "3.3"….
            guard chunk.page == hit.page, length + chunk.size <= maxCharacters else { break }
            after += 1
            length += chunk.size
        }
        return try neighbourhood(of: hit, before: before, after: after)
    }

    /// The passages to answer `question` from: `hits` as found, the first one extended to the
    /// rest of its section (`section(of:)`) when the question asks for steps or a list
    /// (`QuestionForm`), since those run past one chunk.
    public func answerPassages(for question: String, hits: [SearchHit]) throws -> [SearchHit] {
        var result = hits
        let form = QuestionForm(question)
        if form.needsSection, let first = hits.first {
            result[0] = try section(of: first)
            if form == .enumeration { result[0].outline = try outline(of: first, question: question) }
        }
        if let definition = try optionDefinition(for: question, hits: hits) {
            // Second, after the best passage (what the question is about), in place of the last.
            result.insert(definition, at: min(1, result.count))
            if result.count > hits.count { result.removeLast() }
        }
        return result
    }

    /// For a question naming a command-line option ("À quoi sert l'option -R de rm ?") when no hit
    /// of the best hit's document holds the line defining it: the chunk of that document that does
    /// ("-r, -R, --recursive" and its description). Search finds the pages that mention the
    /// option, often not the definition, whose description may share no word with the question;
    /// and another command's page defining the same letter is not the answer.
    /// The document is the best hit's, or the hit's whose file is named in the question ("-x de
    /// tar" and `tar.1.txt`: a manual page is named after its command).
    public func optionDefinition(for question: String, hits: [SearchHit]) throws -> SearchHit? {
        let asked = CommandOptions.named(in: question)
        let words = Set(FrenchText.words(question))
        guard !asked.isEmpty, let first = hits.first(where: { CommandOptions.names(file: $0.file, questionWords: words) }) ?? hits.first,
              !hits.contains(where: { $0.file == first.file && CommandOptions.defines(asked, in: $0.text) }) else { return nil }
        guard let span = try chunkSpans(ofDocumentOf: first.chunkID, ordinals: Int.min...Int.max)
            .first(where: { CommandOptions.defines(asked, in: $0.text) }) else { return nil }
        return SearchHit(chunkID: span.chunkID, file: first.file, page: span.page, ordinal: span.ordinal,
                         score: first.score, text: span.text, snippet: "")
    }

    /// The headings of the direct sub-sections of the section the question is about, in document
    /// order: for "Quelles sont les variantes…" and a hit under or holding "2. Les variantes…", the
    /// "2.1 …", "2.2 …" lines of its document. The section is the numbered heading, among the
    /// hit's own and those in its text, that shares the most words with the question. Empty when
    /// there is no numbered heading.
    public func outline(of hit: SearchHit, question: String) throws -> [String] {
        func number(_ heading: String) -> String? {
            guard let n = heading.split(separator: " ").first, n.first?.isNumber == true,
                  n.allSatisfy({ $0.isNumber || $0 == "." }) else { return nil }
            return String(n)
        }
        let questionTerms = Set(KeywordAnalyzer.terms(question))
        var candidates = [hit.context.components(separatedBy: " — ").last ?? ""]
        candidates += hit.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count <= 100 }
        var best: (number: String, shared: Int)?
        for heading in candidates {
            guard let n = number(heading) else { continue }
            let shared = Set(KeywordAnalyzer.terms(heading)).intersection(questionTerms).count
            if best == nil || shared > best!.shared { best = (n, shared) }
        }
        guard let chosen = best?.number else { return [] }
        let prefix = chosen.hasSuffix(".") ? chosen : chosen + "."
        let texts = try chunkSpans(ofDocumentOf: hit.chunkID, ordinals: Int.min...Int.max).map(\.text)
        var seen = Set<String>()
        var result: [String] = []
        for text in texts {
            for line in text.split(separator: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.count <= 100, trimmed.hasPrefix(prefix) else { continue }
                // One level down: digits, an optional ".", a space, then the title.
                let rest = trimmed.dropFirst(prefix.count)
                let digits = rest.prefix(while: \.isNumber)
                guard !digits.isEmpty else { continue }
                var title = rest.dropFirst(digits.count)
                if title.hasPrefix(".") { title = title.dropFirst() }
                guard title.hasPrefix(" "), let last = title.last, !".!?:;,".contains(last),
                      title.contains(where: \.isLetter), seen.insert(trimmed).inserted else { continue }
                result.append(trimmed)
            }
        }
        return result
    }
}
