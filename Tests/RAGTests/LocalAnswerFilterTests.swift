import Testing
import RAG

/// The local backend's stream filter, fed by hand: what the client sees of a model's raw text.
@Suite struct LocalAnswerFilterTests {
    func filter(primer: String? = nil, stops: [String] = ["\nQuestion"]) -> LocalAnswerFilter {
        LocalAnswerFilter(stopStrings: stops, passages: ["Le four est préchauffé à 180 degrés."], question: "Quelle température ?",
                          primer: primer,
                          tuning: LocalAnswerTuning(addCitations: false, maxSentences: nil))
    }

    func run(_ f: inout LocalAnswerFilter, _ pieces: [String]) -> String {
        pieces.map { f.feed($0) }.joined() + f.finish("")
    }

    @Test func leadingSpaceDroppedTrailingSpaceHeld() {
        var f = filter()
        #expect(f.feed("  ") == "")
        #expect(f.feed(" Le ") == "")                      // the opening is held until 8 characters show what it is
        #expect(f.feed("four chauffe ") == "Le four chauffe")
        #expect(f.feed("à 180 degrés. ") == " à 180 degrés.")
        #expect(f.finish("") == "")                          // trailing space never sent
        #expect(!f.shouldStop)
    }

    @Test func aPassageInsteadOfAnAnswerStops() {
        var f = filter()
        #expect(f.feed("[5] (document.pdf, page 2)") == "")
        #expect(f.isPassage && f.shouldStop)
        var g = filter()
        #expect(g.feed("[1] Le") == "")
        #expect(g.feed(" four chauffe.") == "")
        #expect(g.isPassage)
        // An answer that cites a passage is not one.
        var h = filter()
        #expect(run(&h, ["Il chauffe [1]."]) == "Il chauffe [1].")
        #expect(!h.isPassage)
    }

    @Test func stopStringsCutTheAnswer() {
        var f = filter()
        let text = run(&f, ["Le four chauffe à 180 degrés.", "\nQuestion : et ensuite ?"])
        #expect(text == "Le four chauffe à 180 degrés.")
        #expect(f.shouldStop)
    }

    @Test func thePrimerGoesOutWithTheFirstText() {
        var f = filter(primer: "Le four est")
        #expect(f.feed("") == "")
        #expect(run(&f, ["préchauffé à 180 degrés."]) == "Le four est préchauffé à 180 degrés.")
        // Punctuation goes on without a space.
        var g = filter(primer: "Le secret de la tarte")
        #expect(run(&g, [", c'est le four."]) == "Le secret de la tarte, c'est le four.")
        // An opening the model ends at once only restated the question: it is left out.
        var h = filter(primer: "La température")
        #expect(run(&h, [". Le four chauffe."]) == "Le four chauffe.")
        // The second-chance primer is kept even then.
        var i = filter(primer: LocalBackend.primer)
        #expect(run(&i, [". Le four chauffe."]).hasPrefix(LocalBackend.primer))
    }
}
