import Documents
import Testing

@Suite("Normalisation")
struct NormalizerTests {
    @Test func nfcAndLigatures() {
        let decomposed = "Cre\u{300}me bru\u{302}le\u{301}e"
        #expect(TextNormalizer.normalize(decomposed) == "Crème brûlée")
        #expect(TextNormalizer.normalize("ﬁne ﬂeur, eﬀet, eﬃcace, souﬄé, œuf, cœur") == "fine fleur, effet, efficace, soufflé, œuf, cœur")
    }

    /// TeX-made PDFs give î and ï as a dotless ı and a separate accent; the words must meet the
    /// ones typed ("chaîne", "ambiguïté").
    @Test func dotlessIWithAnAccentBecomesOneLetter() {
        #expect(TextNormalizer.normalize("une chaı\u{302}ne, une ambiguı\u{308}té") == "une chaîne, une ambiguïté")
        #expect(TextNormalizer.normalize("la cha\u{2C6}ıne et na\u{A8}ıf") == "la chaîne et naïf")
        #expect(TextNormalizer.normalize("une cha^\nıne") == "une chaîne")
        // A dotless ı alone is a letter of its own (Turkish), and stays.
        #expect(TextNormalizer.normalize("Dolmabahçe, ılık") == "Dolmabahçe, ılık")
    }

    @Test func softHyphens() {
        #expect(TextNormalizer.normalize("pâtis\u{AD}serie") == "pâtisserie")
        #expect(TextNormalizer.normalize("pâtis\u{AD}\nserie fine") == "pâtisserie fine")
    }

    @Test func hyphenationAcrossLines() {
        #expect(TextNormalizer.normalize("les pom-\nmes reinettes") == "les pommes\nreinettes")
        #expect(TextNormalizer.normalize("une pomme-\nfruit") == "une pommefruit")
        // Compound already hyphenated: keep the hyphen.
        #expect(TextNormalizer.normalize("un arc-en-\nciel") == "un arc-en-ciel")
        // groff (manual pages) breaks words with the typographic hyphen U+2010; an option's
        // leading "--" does not make the word a compound.
        #expect(TextNormalizer.normalize("the --interactive=al\u{2010}\nways option") == "the --interactive=always\noption")
        #expect(TextNormalizer.normalize("un arc\u{2010}en\u{2010}\nciel") == "un arc\u{2010}en-ciel")
        // Next line capitalised or a list dash: not a hyphenated word.
        #expect(TextNormalizer.normalize("Paris-\nBrest") == "Paris-\nBrest")
        #expect(TextNormalizer.normalize("ingrédients -\n- farine") == "ingrédients -\n- farine")
    }

    @Test func whitespaceAndParagraphs() {
        let text = "  Titre \t du  texte  \r\n\r\n\r\n\tpremier\u{A0}paragraphe\nsuite   \n \n\u{000C}second\u{200B}  "
        #expect(TextNormalizer.normalize(text) == "Titre du texte\n\npremier paragraphe\nsuite\n\nsecond")
        #expect(TextNormalizer.normalize("a\u{0007}b") == "ab")
        #expect(TextNormalizer.normalize("") == "")
        #expect(TextNormalizer.normalize(" \n\n \t") == "")
    }

    @Test func runningHeadersFootersAndPageNumbers() {
        let words = ["alpha", "bêta", "gamma", "delta"]
        let pages = (1...4).map { number in
            "Manuel de la tarte   \nChapitre \(number)\nTexte propre à la page \(number), avec du contenu.\nSuite \(words[number - 1]).\n\nPage \(number) / 4"
        }
        let result = TextNormalizer.normalizePages(pages)
        #expect(result.count == 4)
        for (index, page) in result.enumerated() {
            #expect(!page.contains("Manuel de la tarte"))
            #expect(!page.contains("Page \(index + 1) / 4"))
            // "Chapitre N" is at the top of every page too (digits ignored): a running header.
            #expect(!page.contains("Chapitre"))
            #expect(page.hasPrefix("Texte propre à la page \(index + 1)"))
            #expect(page.hasSuffix("Suite \(words[index])."))
        }
    }

    @Test func bareNumbersAndDashedNumbers() {
        let pages = ["Début du document.\nAutre ligne.\n- 1 -", "Contenu différent ici.\nEncore.\n- 2 -", "Troisième.\nFin.\n3"]
        #expect(TextNormalizer.normalizePages(pages) == ["Début du document.\nAutre ligne.", "Contenu différent ici.\nEncore.", "Troisième.\nFin."])
    }

    @Test func linesNotOnEveryPageStay() {
        let pages = ["Introduction\nLe texte.", "Recettes\nAutre texte.", "Introduction\nDernier texte."]
        #expect(TextNormalizer.normalizePages(pages) == ["Introduction\nLe texte.", "Recettes\nAutre texte.", "Introduction\nDernier texte."])
        // A single page keeps everything, even a trailing number.
        #expect(TextNormalizer.normalizePages(["Cuire 40 minutes à\n180"]) == ["Cuire 40 minutes à\n180"])
    }

    @Test func titlePageWithoutHeader() {
        var pages = ["Couverture\n\nLa tarte"]
        let words = ["", "", "deux", "trois", "quatre", "cinq", "six"]
        pages += (2...6).map { "Guide pratique\nContenu \(words[$0]) unique.\n\($0)" }
        let result = TextNormalizer.normalizePages(pages)
        #expect(result[0] == "Couverture\n\nLa tarte")
        #expect(result[1] == "Contenu deux unique.")
        #expect(result[5] == "Contenu six unique.")
    }
}
