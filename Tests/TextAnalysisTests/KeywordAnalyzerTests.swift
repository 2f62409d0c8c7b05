import Testing
import TextAnalysis

@Suite("French keyword analysis")
struct KeywordAnalyzerTests {
    @Test("fold removes case, accents and ligatures")
    func folding() {
        #expect(FrenchText.fold("Élève Œuf Ça") == "eleve oeuf ca")
        #expect(FrenchText.fold("l’option") == "l'option")
    }

    @Test("word forms meet: plural, feminine, verb forms")
    func wordForms() {
        let pairs: [(String, String)] = [
            ("fichiers", "fichier"), ("supprimer", "supprime"), ("supprimés", "supprimer"),
            ("paquets", "paquet"), ("installer", "installation"), ("configurée", "configurer"),
            ("répertoires", "répertoire"), ("compilé", "compiler"),
            // an -ire verb and its participle
            ("extraire", "extrait"), ("Extraire", "extraits"), ("construire", "construit"), ("écrire", "écrits"),
            ("produire", "produite"), ("traduire", "traduit"),
        ]
        for (a, b) in pairs {
            #expect(KeywordAnalyzer.terms(a) == KeywordAnalyzer.terms(b), "\(a) vs \(b)")
        }
        // Accents typed or not give the same term.
        #expect(KeywordAnalyzer.terms("système") == KeywordAnalyzer.terms("systeme"))
        #expect(KeywordAnalyzer.terms("FEUILLETÉE") == KeywordAnalyzer.terms("feuilletee"))
    }

    @Test("stop words and elisions are dropped")
    func stopWords() {
        #expect(KeywordAnalyzer.terms("Comment est-ce que l'on supprime les fichiers ?") == ["supprim", "fichi"])
        #expect(KeywordAnalyzer.terms("de la et le") == [])
        // A query made only of stop words still has terms.
        #expect(!KeywordAnalyzer.queryTerms("de la et le").isEmpty)
    }

    @Test("options, paths and dotted names also give one exact term")
    func identifiers() {
        let rm = KeywordAnalyzer.terms("rm --preserve-root -h, fichier.")
        #expect(rm.contains("__preserve_root"))
        #expect(rm.contains("_h"))
        #expect(rm.contains("preserv") && rm.contains("root"))
        let path = KeywordAnalyzer.terms("(voir /etc/apt/sources.list)")
        #expect(path.contains("_etc_apt_sources_list") && path.contains("apt") && path.contains("list"))
        #expect(KeywordAnalyzer.terms("apt-get").first == "apt_get")
        #expect(KeywordAnalyzer.terms("version 2.24.1.").contains("2_24_1"))
        // A dash used as a bullet is not an option.
        #expect(KeywordAnalyzer.terms("- pommes") == KeywordAnalyzer.terms("pommes"))
        // Verbs joined to their pronouns are not names.
        #expect(KeywordAnalyzer.terms("Quel alcool met-on ?") == ["alcool", "met"])
        #expect(!KeywordAnalyzer.terms("diminue-t-elle").contains { $0.contains("_") })
        // … also after an elided word: "Qu'est-ce que" is only stop words
        #expect(KeywordAnalyzer.terms("Qu'est-ce qu'une tarte fine ?") == ["tart", "fin"])
        #expect(!KeywordAnalyzer.terms("Pourquoi n'étaient-elles pas sucrées ?").contains { $0.contains("_") })
        // French hyphenated words keep their parts.
        #expect(KeywordAnalyzer.terms("arc-en-ciel").contains("arc"))
    }

    @Test("any input is safe: empty, symbols, very long")
    func robustness() {
        #expect(KeywordAnalyzer.terms("").isEmpty)
        #expect(KeywordAnalyzer.terms("*** \" ( ) -- « » …").isEmpty)
        let long = String(repeating: "anticonstitutionnellementissimement", count: 5)
        #expect(KeywordAnalyzer.terms(long).count == 1)
        #expect(KeywordAnalyzer.queryTerms(String(repeating: "mot ", count: 100_000) + "autre").count <= 32)
        #expect(KeywordAnalyzer.terms("😀 日本語 العربية").count >= 1)
    }

    @Test("the stemmer is safe from many threads")
    func concurrentStemming() async {
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    (0..<2_000).allSatisfy { _ in FrenchStemmer.shared.stem("continuellement") == "continuel" }
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}

@Suite("Names in a question")
struct QuestionNameTests {
    func names(_ text: String) -> [String] { KeywordAnalyzer.names(in: text).map(\.surface) }

    @Test("capitalised words past a sentence's start, without elided articles or punctuation")
    func capitalisedWords() {
        #expect(names("Quelle est la capitale de l'Australie ?") == ["Australie"])
        #expect(names("Comment configurer un VPN WireGuard sur un iPhone ?") == ["VPN", "WireGuard", "iPhone"])
        #expect(names("Comment écrire une macro VBA dans d’Excel ?") == ["VBA", "Excel"])
        // The first word of each sentence is capitalised whatever it is.
        #expect(names("Debian ne démarre plus. Que faire ?") == [])
        #expect(names("Comment installer un paquet ?") == [])
    }

    @Test("numbers, single letters, quoted text and text in capitals are not names")
    func notNames() {
        #expect(names("Comment activer BitLocker sous Windows 11 ?") == ["BitLocker", "Windows"])
        #expect(names("Que signifie la lettre E dans la sortie ?") == [])
        #expect(names("Comment écrire « Allegro » au-dessus de la portée ?") == [])
        #expect(names("Comment écrire \"Allegro Vivace\" puis Presto ?") == ["Presto"])
        #expect(names("COMMENT INSTALLER DEBIAN ?") == [])
    }

    @Test("a name's terms are the index's terms of the word")
    func nameTerms() {
        #expect(KeywordAnalyzer.names(in: "Où est l'Australie ?").first?.terms == KeywordAnalyzer.terms("Australie"))
    }

    @Test("given the language's words, a word that is none of them names something, capitalised or not")
    func wordsOutsideTheLanguage() {
        let words = WordList(["comment", "installer", "un", "paquet", "avec", "sur", "télécharge", "chacun", "les", "paquets",
                              "mêmes", "carte", "fi", "marche", "personnel", "ne", "pas", "sous", "que", "faire"])
        func named(_ text: String) -> [String] { KeywordAnalyzer.names(in: text, words: words).map(\.surface) }
        #expect(named("Comment installer un paquet avec dnf sur Fedora ?") == ["dnf", "Fedora"])
        #expect(named("Regedit ?") == ["Regedit"])
        #expect(named("COMMENT INSTALLER UN PAQUET AVEC DNF ?") == ["DNF"])
        // Accents left out, re- before a listed word, a compound with a listed part, a clipped word.
        #expect(named("chacun retelecharge les memes paquets") == [])
        #expect(named("Ma carte wi-fi ne marche pas sous mon PC perso, que faire ?") == ["PC"])
        // A typing error is not a name (one letter away from a listed word, 5 letters or more).
        #expect(named("Comment instaler un paquet ?") == [])
        #expect(named("Comment installer un paqeut ?") == [])
        // A 100,000-letter "word" is judged at once.
        #expect(named("Comment " + String(repeating: "a", count: 100_000) + " ?").count == 1)
        // Numbers and quoted text are still not names.
        #expect(named("Comment installer « dnf » avec 3h40 ?") == [])
    }

    @Test("the machine's French and English word lists (Debian's wfrench and wamerican)")
    func installedWordLists() throws {
        let words = try #require(WordList.installed, "the wfrench and wamerican packages (make deps)")
        for word in ["violoncelle", "éteint", "eteint", "retélécharge", "perso", "wi-fi", "password", "tuning",
                     "instaler", "configuraton", "sytème", "fichers"] {
            #expect(words.contains(word), "\(word)")
        }
        // Capitalised entries of the English list are names, not words.
        for word in ["dnf", "pacman", "regedit", "wireguard", "bitlocker", "musescore", "ubuntu"] {
            #expect(!words.contains(word), "\(word)")
        }
    }
}

@Suite("Command-line options")
struct CommandOptionsTests {
    @Test("options named in a question, case kept, words joined by hyphens left out")
    func namedOptions() {
        #expect(CommandOptions.named(in: "À quoi sert l'option -R de rm ?") == ["-R"])
        #expect(CommandOptions.named(in: "rm -rf, --preserve-root=all et -- seul") == ["-rf", "--preserve-root"])
        #expect(CommandOptions.named(in: "Comment arrive-t-elle à lire point-and-click ?") == [])
    }

    @Test("a line defines the options it starts with, not prose that wrapped after one")
    func definingLines() {
        #expect(CommandOptions.defined(byLine: "   -r, -R, --recursive") == ["-r", "-R", "--recursive"])
        #expect(CommandOptions.defined(byLine: "-H, --header=CHAMP") == ["-H", "--header"])
        #expect(CommandOptions.defined(byLine: "-i     demander une confirmation") == ["-i"])
        #expect(CommandOptions.defined(byLine: "--color[=WHEN]") == ["--color"])
        #expect(CommandOptions.defined(byLine: "-R) option to remove each listed directory") == [])
        #expect(CommandOptions.defined(byLine: "- développeur Debian : un membre du projet") == [])
        #expect(CommandOptions.defines(["-R"], in: "OPTIONS\n   -r, -R, --recursive\n      remove directories"))
        #expect(!CommandOptions.defines(["-R"], in: "Use the --recursive (-r or\n-R) option to remove"))
    }
}
