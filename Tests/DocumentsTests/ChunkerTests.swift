import Documents
import Testing

@Suite("Chunking")
struct ChunkerTests {
    static let vocabulary = ["la", "pâte", "brisée", "pommes", "sucre", "beurre", "four", "Tatin", "cuisson",
                             "température", "crème", "œufs", "un", "de", "et", "dorée", "M.", "3,5", "l'eau",
                             "«", "»", "—", "caramélisées", "anticonstitutionnellement"]

    /// Random French-like text: paragraphs, sentences, line breaks, rare very long words.
    static func randomText(_ rng: inout SeededRandom, length: Int) -> String {
        var text = ""
        var sentenceStart = true
        while text.unicodeScalars.count < length {
            var word = vocabulary[Int(rng.next() % UInt64(vocabulary.count))]
            if rng.next() % 400 == 0 { word = String(repeating: "x", count: Int(rng.next() % 3000) + 1) }
            if sentenceStart { word = word.prefix(1).uppercased() + word.dropFirst() }
            text += word
            sentenceStart = false
            switch rng.next() % 40 {
            case 0: text += ".\n\n"; sentenceStart = true
            case 1...4: text += ". "; sentenceStart = true
            case 5: text += " !\n"; sentenceStart = true
            case 6: text += "\n"
            case 7: text += ", "
            default: text += " "
            }
        }
        return TextNormalizer.normalize(text)
    }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }

    @Test(arguments: [(800, 150), (200, 50), (100, 0), (50, 25), (1000, 300)])
    func properties(target: Int, overlap: Int) throws {
        let options = ChunkingOptions(targetSize: target, overlap: overlap)
        let chunker = try Chunker(options: options)
        var rng = SeededRandom(seed: UInt64(target * 1000 + overlap))
        for round in 0..<40 {
            let text = Self.randomText(&rng, length: Int(rng.next() % 6000))
            let s = Array(text.unicodeScalars)
            let ranges = chunker.ranges(text)
            let context = Comment(rawValue: "target \(target) overlap \(overlap) round \(round)")
            guard !s.isEmpty else { #expect(ranges.isEmpty, context); continue }

            // Coverage: starts at 0, ends at n, no gap between neighbours.
            #expect(ranges.first?.lowerBound == 0, context)
            #expect(ranges.last?.upperBound == s.count, context)
            for (a, b) in zip(ranges, ranges.dropFirst()) {
                #expect(b.lowerBound <= a.upperBound, context)     // covered
                #expect(b.lowerBound > a.lowerBound, context)      // progress
                #expect(b.upperBound > a.upperBound, context)
                // Overlap: no more than 1.5 × the wanted overlap; none when 0.
                let shared = a.upperBound - b.lowerBound
                #expect(shared <= overlap * 3 / 2, context)
                if overlap == 0 { #expect(shared == 0, context) }
            }
            for (index, range) in ranges.enumerated() {
                // Bounds: inside the text, never empty.
                #expect(range.lowerBound >= 0 && range.upperBound <= s.count && !range.isEmpty, context)
                // Never inside a word: a chunk starts at a word start and ends before one (or at the
                // end of the text); only a word longer than 4 × target is cut, and the next chunk
                // starts where it was cut.
                let startOK = range.lowerBound == 0 || (Self.isSpace(s[range.lowerBound - 1]) && !Self.isSpace(s[range.lowerBound]))
                let endOK = range.upperBound == s.count || (Self.isSpace(s[range.upperBound - 1]) && !Self.isSpace(s[range.upperBound]))
                let forcedCut = range.count == 4 * target
                let afterForcedCut = index > 0 && ranges[index - 1].count == 4 * target
                    && ranges[index - 1].upperBound == range.lowerBound
                #expect(endOK || forcedCut, context)
                #expect(startOK || afterForcedCut, context)
                // Size: at most the target, unless a long word made the chunk longer.
                if range.count > target {
                    let longest = s[range].split(whereSeparator: Self.isSpace).map(\.count).max() ?? 0
                    #expect(longest >= min(target / 2, target - overlap * 3 / 2 - 1), context)
                }
            }
        }
    }

    @Test func chunksMatchTheirTextAndPages() throws {
        var rng = SeededRandom(seed: 99)
        let pages = (1...3).map { PageText(number: $0, text: Self.randomText(&rng, length: 2500)) }
        let document = ExtractedDocument(path: "doc.pdf", kind: .pdf, pages: pages)
        let chunks = try Chunker(options: ChunkingOptions(targetSize: 400, overlap: 80)).chunks(of: document)
        #expect(chunks.map(\.ordinal) == Array(0..<chunks.count))
        for chunk in chunks {
            let page = try #require(pages.first { $0.number == chunk.page })
            let scalars = Array(page.text.unicodeScalars)
            #expect(chunk.file == "doc.pdf")
            #expect(chunk.text == String(String.UnicodeScalarView(scalars[chunk.start..<chunk.end])))
        }
        // Every page is covered on its own.
        for page in pages {
            let own = chunks.filter { $0.page == page.number }
            #expect(own.first?.start == 0)
            #expect(own.last?.end == page.text.unicodeScalars.count)
        }
    }

    @Test func prefersParagraphAndSentenceBreaks() throws {
        let first = String(repeating: "Une phrase de remplissage assez longue. ", count: 8)   // ~320 chars
        let text = first + "\n\n" + String(repeating: "Autre paragraphe avec des mots. ", count: 20)
        let normalized = TextNormalizer.normalize(text)
        let ranges = try Chunker(options: ChunkingOptions(targetSize: 500, overlap: 0)).ranges(normalized)
        let s = Array(normalized.unicodeScalars)
        // The first chunk ends at the paragraph break.
        let paragraphStart = Array(normalized.unicodeScalars).firstIndex(of: "A")!
        #expect(ranges[0].upperBound == paragraphStart)
        // Later chunks end after a full stop.
        for range in ranges.dropLast() {
            let last = s[range].lastIndex { !$0.properties.isWhitespace }!
            #expect(s[last] == ".")
        }
    }

    @Test func overlapStartsAtASentenceWhenPossible() throws {
        let text = TextNormalizer.normalize(String(repeating: "Le four chauffe doucement à point. ", count: 60))
        let ranges = try Chunker(options: ChunkingOptions(targetSize: 300, overlap: 100)).ranges(text)
        let s = Array(text.unicodeScalars)
        for range in ranges.dropFirst() { #expect(s[range.lowerBound] == "L") }
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound - b.lowerBound > 0) }
    }

    @Test func smallTextsAndOptions() throws {
        let chunker = try Chunker()
        #expect(chunker.ranges("Court.") == [0..<6])
        #expect(chunker.ranges("").isEmpty)
        #expect(chunker.options == ChunkingOptions(targetSize: 1200, overlap: 200))
        #expect(throws: DocumentsError.self) { try Chunker(options: ChunkingOptions(targetSize: 100, overlap: 60)) }
        #expect(throws: DocumentsError.self) { try Chunker(options: ChunkingOptions(targetSize: 10, overlap: 0)) }
        #expect(throws: DocumentsError.self) { try Chunker(options: ChunkingOptions(targetSize: 100, overlap: -1)) }
    }

    @Test func hugeWordIsCutAtFourTimesTheTarget() throws {
        let text = "début " + String(repeating: "a", count: 1000) + " fin"
        let ranges = try Chunker(options: ChunkingOptions(targetSize: 100, overlap: 0)).ranges(text)
        #expect(ranges.first?.lowerBound == 0)
        #expect(ranges.last?.upperBound == text.unicodeScalars.count)
        #expect(ranges.allSatisfy { $0.count <= 400 })
    }

    @Test("each chunk names its file, the document's title and the section it starts in")
    func contextHeadings() throws {
        let section = String(repeating: "Une phrase de remplissage assez longue pour le test. ", count: 4)
        let text = """
            Chapitre 6. Construction du paquet

            \(section)

            6.1. Reconstruction complète

            \(section)
            Ensuite, exécutez la commande suivante :

            # dpkg-buildpackage -us -uc

            - un élément de liste sans point

            Ingrédients :

            \(section)
            """
        let document = ExtractedDocument(path: "guide/build-paquet.txt", kind: .text, pages: [PageText(number: nil, text: text)])
        let chunks = try Chunker(options: ChunkingOptions(targetSize: 220, overlap: 0)).chunks(of: document)
        #expect(chunks.count >= 4)
        #expect(chunks[0].context == "build paquet — Chapitre 6. Construction du paquet")
        // After "6.1.": that heading, never the shell line, the list item or "Ingrédients :".
        let later = chunks.filter { $0.text.contains("Ingrédients") || $0.text.contains("dpkg-buildpackage") }
        #expect(!later.isEmpty)
        for chunk in chunks.dropFirst(2) {
            #expect(chunk.context == "build paquet — Chapitre 6. Construction du paquet — 6.1. Reconstruction complète", "\(chunk.text)")
        }
        #expect(chunks[2].indexedText.hasPrefix(chunks[2].context + "\n\n"))
        // Markdown marks are dropped; the title is not repeated as a section.
        let markdown = ExtractedDocument(path: "notes.md", kind: .markdown, pages: [PageText(number: nil, text: "# Notes\n\nTexte.\n\n## Cuisson\n\nAu four.")])
        let md = try Chunker(options: ChunkingOptions(targetSize: 20, overlap: 0)).chunks(of: markdown)
        #expect(md.first?.context == "notes")  // the title says no more than the file name
        #expect(md.last?.context == "notes — Cuisson")
    }
}
