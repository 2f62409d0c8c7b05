import Foundation
import Index
import RAG
import Testing
import TextAnalysis

@Suite struct ExtractiveBackendTests {
    let passages = [
        SearchHit(chunkID: 1, file: "connaissances.txt", score: 0.8, text: """
            2. Les variantes

            La tarte Tatin est une tarte renversée : les pommes caramélisées cuisent sous la pâte. \
            La tarte normande associe les pommes à une crème aux œufs. Le strudel viennois enroule les fruits dans une pâte très fine.
            """),
        SearchHit(chunkID: 2, file: "document.pdf", page: 2, score: 0.7, text: """
            Le secret d'une bonne tarte tient d'abord au choix des pommes : des fruits acidulés et fermes. \
            Il faut aussi une pâte bien froide, cuite à blanc quelques minutes. Le four doit être chaud.
            """),
        SearchHit(chunkID: 3, file: "connaissances.txt", score: 0.5, text: """
            La pomme est cultivée depuis des millénaires en Asie centrale. Les Romains savaient la greffer.
            """),
    ]

    @Test func quotesTheClosestSentencesWithCitations() async throws {
        let backend = ExtractiveBackend()
        let answer = try await backend.render(question: "Quel est le secret d'une bonne tarte aux pommes ?", passages: passages)
        #expect(answer.hasPrefix(ExtractiveBackend.intro))
        // The second sentence opens on a pronoun: it is quoted with the sentence it follows.
        #expect(answer.contains("« Le secret d'une bonne tarte tient d'abord au choix des pommes : des fruits acidulés et fermes. "
            + "Il faut aussi une pâte bien froide, cuite à blanc quelques minutes. » [2]"))
        #expect(!answer.contains("Romains"))
        #expect(!answer.contains("2. Les variantes"))   // headings are not quoted
    }

    /// Question and sentences are compared by stems: a verb asked in one form meets the sentence
    /// that uses another ("convertir" ↔ "convertit"), which then outranks a sentence that only
    /// shares the noun.
    @Test func verbFormsMeet() async throws {
        let passage = SearchHit(chunkID: 9, file: "paquets.txt", score: 0.9, text: """
            Un paquet contient des fichiers et des scripts de maintenance. \
            Le programme alien convertit les paquets étrangers en paquets Debian.
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Comment convertir un paquet ?", passages: [passage])
        #expect(quotes.first?.sentence == "Le programme alien convertit les paquets étrangers en paquets Debian.")
    }

    /// A how-to question is answered by the sentence that shows the command rather than by one
    /// that only shares its words.
    @Test func howToQuestionsPreferTheCommand() async throws {
        let passage = SearchHit(chunkID: 10, file: "codage.txt", score: 0.9, text: """
            Un fichier peut être converti en UTF-8.

            Pour convertir un fichier en UTF-8, utilisez iconv :

            $ iconv -f latin1 -t utf-8 entree.txt > sortie.txt
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Comment convertir un fichier en UTF-8 ?", passages: [passage])
        #expect(quotes.first?.sentence == "Pour convertir un fichier en UTF-8, utilisez iconv :\n$ iconv -f latin1 -t utf-8 entree.txt > sortie.txt")
        // asked what it is, not how to do it, the plain statement still comes first
        let fact = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Un fichier peut-il être converti en UTF-8 ?", passages: [passage])
        #expect(fact.first?.sentence == "Un fichier peut être converti en UTF-8.")
    }

    /// The best sentence is quoted with the next one of its paragraph (which says how), a
    /// sentence quoted later with it as antecedent continues that quote instead of repeating it,
    /// and a list item does not bring the next item.
    @Test func bestSentenceComesWithTheRestOfItsThought() async throws {
        let passage = SearchHit(chunkID: 12, file: "dother.txt", score: 0.9, text: """
            Quand dpkg-source extrait un paquet source, il applique automatiquement tous les correctifs de la série. \
            Vous pouvez éviter cela avec l'option --skip-patches. Elle laisse les sources telles quelles.

            Le format 3.0 conserve les correctifs dans debian/patches.
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 2).quotes(question: "Comment extraire un paquet source sans appliquer ses correctifs ?", passages: [passage])
        #expect(quotes.first?.sentence == "Quand dpkg-source extrait un paquet source, il applique automatiquement tous les correctifs de la série. "
                + "Vous pouvez éviter cela avec l'option --skip-patches.")
        #expect(quotes.filter { $0.sentence.contains("--skip-patches") }.count == 1)
        let list = SearchHit(chunkID: 13, file: "liste.txt", score: 0.9, text: """
            Avant de créer le paquet :
            - contactez les auteurs du programme pour vérifier qu'ils sont d'accord pour la création du paquet ;
            - vérifiez que le programme ne doit pas être exécuté setuid root ;
            """)
        let items = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Faut-il contacter les auteurs du programme avant de créer le paquet ?", passages: [list])
        #expect(items.first?.sentence.contains("setuid") == false)
    }

    /// A series' member is quoted once, with the sentence after it when that one refers back to it.
    @Test func seriesMembersAreQuotedOnce() async throws {
        let passage = SearchHit(chunkID: 20, file: "secrets.txt", score: 0.9, text: """
            Le premier secret d'une bonne pâte est le beurre froid.

            Le deuxième secret est le repos de la pâte. Il dure au moins une heure.

            Le troisième secret est la cuisson à blanc.
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Quel est le secret d'une bonne pâte ?", passages: [passage])
        #expect(quotes.filter { $0.sentence.contains("deuxième secret") }.count == 1)
        #expect(quotes.contains { $0.sentence.contains("troisième secret") })
        // "le premier envoi" then "le dernier envoi": no second member, no series
        let uploads = SearchHit(chunkID: 21, file: "envoi.txt", score: 0.9, text: """
            Lors du premier envoi d'un paquet vers l'archive, il faut inclure les sources originales.

            Le fichier .changes doit inclure toutes les modifications depuis le dernier envoi.
            """)
        let one = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Faut-il inclure les sources originales à l'envoi d'un paquet vers l'archive ?", passages: [uploads])
        #expect(one.count == 1)
    }

    /// A quote opening with the sentences another quote of its passage ends with continues it.
    @Test func overlappingQuotesJoin() {
        typealias Quote = ExtractiveBackend.Quote
        let taken = [Quote(sentence: "La tarte Tatin est renversée. La légende veut qu'une maladresse l'ait créée.", passage: 1, score: 1),
                     Quote(sentence: "Cuire 30 minutes.", passage: 2, score: 0.9)]
        let later = Quote(sentence: "La légende veut qu'une maladresse l'ait créée. Elle fut rendue célèbre à Paris.", passage: 1, score: 0.8)
        #expect(ExtractiveBackend.overlap(of: later, with: taken)?.index == 0)
        #expect(ExtractiveBackend.overlap(of: later, with: taken)?.rest == "Elle fut rendue célèbre à Paris.")
        // two sentences in common
        let longer = Quote(sentence: "La tarte Tatin est renversée. La légende veut qu'une maladresse l'ait créée. Elle fut célèbre.", passage: 1, score: 0.7)
        #expect(ExtractiveBackend.overlap(of: longer, with: taken)?.rest == "Elle fut célèbre.")
        // another passage, or no sentence in common: nothing to join
        #expect(ExtractiveBackend.overlap(of: Quote(sentence: later.sentence, passage: 2, score: 0.8), with: taken) == nil)
        #expect(ExtractiveBackend.overlap(of: Quote(sentence: "Une autre phrase. Et encore une.", passage: 1, score: 0.8), with: taken) == nil)
    }

    @Test func variantsQuestionCitesTheVariantsPassage() async throws {
        let quotes = try await ExtractiveBackend().quotes(question: "Quelles sont les différentes variantes de la tarte aux pommes ?", passages: passages)
        let first = try #require(quotes.first)
        #expect(first.passage == 1)
        #expect(quotes.count <= 3)
    }

    @Test func aSentenceBringsTheCommandsSetApartAfterIt() async throws {
        let passage = SearchHit(chunkID: 4, file: "ch09.txt", score: 0.9, text: """
            9.8.5. Éclater un gros fichier en petits fichiers

            Vous pouvez éclater un gros fichier en morceaux de 2000 Mio et réassembler ces morceaux plus tard.

            $ split -b 2000m large_file
            $ cat x* >large_file

            Attention

            Assurez-vous de ne pas avoir de fichier dont le nom commence par « x ».
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 3).quotes(question: "Comment éclater un gros fichier en morceaux ?", passages: [passage])
        let first = try #require(quotes.first)
        #expect(first.sentence == "Vous pouvez éclater un gros fichier en morceaux de 2000 Mio et réassembler ces morceaux plus tard.\n"
            + "$ split -b 2000m large_file\n$ cat x* >large_file")
        // The heading and the commands are not glued to the sentences around them.
        #expect(!quotes.contains { $0.sentence.hasPrefix("9.8.5") || $0.sentence.hasPrefix("$") || $0.sentence.contains("Attention") })
    }

    /// A manual page defines an option by a line starting with it and the lines under it; a
    /// question naming the option gets that definition first, with the option's exact case.
    @Test func aQuestionAboutAnOptionGetsItsDefinition() async throws {
        let page = SearchHit(chunkID: 7, file: "rm.1.txt", score: 0.9, text: """
            OPTIONS
                   -f, --force
                          ignorer les fichiers inexistants et les arguments, ne jamais demander de confirmation

                   -i     demander une confirmation avant chaque suppression

                   -r, -R, --recursive
                          supprimer les répertoires et leur contenu
                          récursivement. Voir aussi --preserve-root.

                   -d, --dir
                          supprimer les répertoires vides
            """)
        let backend = ExtractiveBackend(maxQuotes: 3)
        let recursive = try #require(try await backend.quotes(question: "À quoi sert l'option -R de rm ?", passages: [page]).first)
        #expect(recursive.sentence == "-r, -R, --recursive\nsupprimer les répertoires et leur contenu\nrécursivement. Voir aussi --preserve-root.")
        #expect(recursive.passage == 1)
        let interactive = try #require(try await backend.quotes(question: "Que fait rm -i ?", passages: [page]).first)
        #expect(interactive.sentence == "-i     demander une confirmation avant chaque suppression")
        // Words joined by hyphens are not options, and an option no line defines gets no definition.
        #expect(CommandOptions.named(in: "Comment arrive-t-elle à lire point-and-click et --jail ou -H ?") == ["--jail", "-H"])
        #expect(ExtractiveBackend.optionDefinition(question: "À quoi sert --verbose ?", passages: [page]) == nil)
        #expect(ExtractiveBackend.optionDefinition(question: "À quoi sert -D ?", passages: [page]) == nil)
    }

    /// "On distingue deux types de commentaires." names none of them: for a question about those
    /// types, the sentences after it (the types) come with it.
    @Test func aSentenceAnnouncingWhatIsAskedBringsTheItems() async throws {
        let passage = SearchHit(chunkID: 8, file: "tutoriel.pdf", page: 7, score: 0.9, text: """
            Un commentaire est ignoré lors de la compilation. On distingue deux types de commentaires. \
            Le commentaire de fin de ligne commence par le symbole %. Le bloc de commentaire s'écrit entre %{ et %}. \
            La gravure des partitions demande du soin.
            """)
        let backend = ExtractiveBackend(maxQuotes: 1)
        let types = try #require(try await backend.quotes(question: "Quels sont les deux types de commentaires ?", passages: [passage]).first)
        #expect(types.sentence.hasPrefix("On distingue deux types de commentaires."))
        #expect(types.sentence.contains("%{ et %}"))
        // A count of something the question does not ask about announces nothing.
        let announcement = "On distingue deux types de commentaires."
        #expect(ExtractiveBackend.announcesWhatIsAsked(announcement, asked: Set(FrenchText.contentWords("Quels types de commentaires existe-t-il ?"))))
        #expect(!ExtractiveBackend.announcesWhatIsAsked(announcement, asked: Set(FrenchText.contentWords("Quand un commentaire est-il ignoré ?"))))
        #expect(!ExtractiveBackend.announcesWhatIsAsked("Il faut deux minutes.", asked: Set(FrenchText.contentWords("Combien de types de pâte ?"))))
    }

    /// "Ce mot est la contraction des noms Debra et Ian" says what "ce mot" is only with the
    /// sentence before it: the two are scored and quoted together.
    @Test func aSentenceOpeningOnAPronounComesWithTheOneBefore() async throws {
        let passage = SearchHit(chunkID: 9, file: "faq.txt", score: 0.9, text: """
            Le nom du projet Debian se prononce avec un e court. Ce mot est la contraction des prénoms Debra et Ian.

            Debian est une distribution libre.
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 2).quotes(question: "D'où vient le nom du projet Debian ?", passages: [passage])
        let first = try #require(quotes.first)
        #expect(first.sentence == "Le nom du projet Debian se prononce avec un e court. Ce mot est la contraction des prénoms Debra et Ian.")
        // The antecedent is not quoted a second time on its own.
        #expect(quotes.filter { $0.sentence.contains("se prononce") }.count == 1)
    }

    /// A number the question names is a precise referent: the sentence holding it comes first.
    @Test func aSentenceHoldingTheQuestionsNumberComesFirst() async throws {
        let passage = SearchHit(chunkID: 10, file: "faq.txt", score: 0.9, text: """
            Les noms de code des versions de Debian viennent des personnages de Toy Story.

            - bullseye (Debian 11) était le cheval de Woody.
            - bookworm (Debian 12) était un ver de terre vert qui adore lire.
            - trixie (Debian 13) était un dinosaure en plastique.
            """)
        // The embedding puts every list item a little closer to the question than the introduction
        // (cosine 0.87 against 0.80), not enough for the items to win on meaning alone against the
        // introduction's shared words; the number decides between the items.
        let backend = ExtractiveBackend(maxQuotes: 2, embed: { texts in
            texts.enumerated().map { i, text -> [Float] in
                let cosine: Float = i == 0 ? 1 : text.contains("viennent") ? 0.80 : 0.87
                return [cosine, (1 - cosine * cosine).squareRoot()]
            }
        })
        let quotes = try await backend.quotes(question: "Quel personnage de Toy Story a donné son nom à Debian 12 ?", passages: [passage])
        #expect(quotes.first?.sentence.contains("bookworm") == true)
    }

    @Test func aTableRowIsQuotedUnderItsColumnNames() async throws {
        let passage = SearchHit(chunkID: 5, file: "ch02.txt", score: 0.9, text: """
            Voici des outils de conversion de paquets.

            paquet | popcon | description
            alien | V:1, I:24 | convertisseur de paquets étrangers vers des paquets Debian
            tar | V:900, I:990 | archiveur de fichiers
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Quel convertisseur transforme des paquets étrangers en paquets Debian ?", passages: [passage])
        #expect(quotes.first?.sentence == "paquet | popcon | description\nalien | V:1, I:24 | convertisseur de paquets étrangers vers des paquets Debian")
    }

    /// An option reference as PDF text gives it (no blank lines): each term with its whole
    /// description is one unit, so the later sentence holding the fact comes with the term; a
    /// heading after an entry ends it.
    @Test func aDefinitionListEntryIsQuotedWhole() async throws {
        let passage = SearchHit(chunkID: 6, file: "usage.pdf", page: 6, score: 0.9, text: """
            relative-includes bool
            Face à une instruction \\include, recherche les fichiers à inclure relativement au
            fichier en cours. La valeur par défaut est #t.
            resolution num
            Détermine la résolution des pixmaps PNG à générer à num dpi. La valeur par défaut
            est 101.
            -s, --silent
            N’affiche rien de plus que les messages d’erreur. Ceci est équivalent à -lERROR.
            Options avancées
            L’option -d est l’interface de la ligne de commande à la fonction Scheme ly:set-option.
            """)
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Quelle est la résolution par défaut des images PNG ?", passages: [passage])
        #expect(quotes.first?.sentence == "resolution num Détermine la résolution des pixmaps PNG à générer à num dpi. La valeur par défaut est 101.")
        let units = ExtractiveBackend.passageSentences(passage.text).map(\.text)
        #expect(units.contains("-s, --silent N’affiche rien de plus que les messages d’erreur. Ceci est équivalent à -lERROR."))
        #expect(units.contains("L’option -d est l’interface de la ligne de commande à la fonction Scheme ly:set-option."))
        // a wrapped prose line is not a term
        #expect(!ExtractiveBackend.isTermLine("les paquets fournis par", next: "Debian sont signés."))
        #expect(!ExtractiveBackend.isTermLine("- un élément de liste", next: "suite"))
    }

    /// A manual page as `man` prints it: section headings in capitals, the synopsis, option
    /// entries whose descriptions start in lower case and end without a full stop, short options
    /// on one line with their description.
    @Test("a manual page's NAME line is quotable: it says what the command is for")
    func nameLinesAreQuotable() async throws {
        #expect(ExtractiveBackend.isNameLine("df - Indiquer l'espace occupé par les systèmes de fichiers"))
        #expect(ExtractiveBackend.isNameLine("nohup  -  Exécuter  une  commande"))
        #expect(ExtractiveBackend.isNameLine("gzip, gunzip, zcat - Compresser ou décompresser des fichiers"))
        #expect(!ExtractiveBackend.isNameLine("Chapitre 2 - Installation"))
        #expect(!ExtractiveBackend.isNameLine("- un élément de liste"))
        #expect(!ExtractiveBackend.isNameLine("-f, --force"))
        #expect(!ExtractiveBackend.isNameLine("df -h"))
        let passage = SearchHit(chunkID: 3, file: "tee.1.txt", score: 0.9, text: """
            NOM
                   tee - Lire depuis l'entrée standard et écrire sur la sortie standard et
                   dans des fichiers

            SYNOPSIS
                   tee [OPTION]... [FICHIER]...
            """)
        let units = ExtractiveBackend.passageSentences(passage.text)
        #expect(units.contains { $0.text == "tee - Lire depuis l'entrée standard et écrire sur la sortie standard et dans des fichiers" && $0.isEntry })
        #expect(units.first { $0.text == "NOM" }?.isQuotable == false)
    }

    @Test func manualPageOptionsAreQuotable() async throws {
        let passage = SearchHit(chunkID: 7, file: "rm.txt", score: 0.9, text: """
            SYNOPSIS
            rm [OPTION]... [FICHIER]...

            DESCRIPTION
            Cette page de manuel documente la version GNU de rm.

            -f, --force
            ignorer les fichiers et paramètres inexistants, ne pas demander de confirmation

            -i demander une confirmation avant chaque effacement

            -I demander une confirmation une seule fois avant d'effacer plus de trois
            fichiers

            -d, --dir
            supprimer des répertoires vides

            --interactive[=QUAND]
            demander une confirmation en fonction de QUAND : « never » ou « always » (toujours : -i).
            Si QUAND est absent, toujours demander
            """)
        let units = ExtractiveBackend.passageSentences(passage.text)
        #expect(units.first { $0.text == "SYNOPSIS" }?.isQuotable == false)
        #expect(units.contains { $0.text == "Cette page de manuel documente la version GNU de rm." })
        #expect(!units.contains { $0.text.contains("DESCRIPTION") && $0.isQuotable })
        #expect(units.contains { $0.text == "-i demander une confirmation avant chaque effacement" && $0.isEntry })
        // an option and its description on one line, wrapped, is one entry too
        #expect(units.contains { $0.text == "-I demander une confirmation une seule fois avant d'effacer plus de trois fichiers" && $0.isEntry })
        // an unpunctuated last line of a description is part of it, not a heading
        #expect(units.contains { $0.text.hasPrefix("--interactive[=QUAND]") && $0.text.hasSuffix("Si QUAND est absent, toujours demander") })
        let quotes = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Comment supprimer un répertoire vide ?", passages: [passage])
        #expect(quotes.first?.sentence == "-d, --dir supprimer des répertoires vides")
        let confirm = try await ExtractiveBackend(maxQuotes: 1).quotes(question: "Comment demander une confirmation avant chaque effacement ?", passages: [passage])
        #expect(confirm.first?.sentence == "-i demander une confirmation avant chaque effacement")
        // Asked for an option, the option's entry comes before prose that also says "option"
        // (with the sentence encoder finding both as close: its weight makes the words count little).
        let prose = SearchHit(chunkID: 8, file: "rm.txt", score: 0.9, text: """
            Si l'option --interactive est indiquée, rm peut demander une confirmation avant chaque effacement.

            -i demander une confirmation avant chaque effacement
            """)
        let sameCosine = ExtractiveBackend(maxQuotes: 1, embed: { texts in texts.map { _ in [Float(0.6), 0.8] } })
        let option = try await sameCosine.quotes(question: "Quelle option fait demander une confirmation avant chaque effacement ?", passages: [prose])
        #expect(option.first?.sentence == "-i demander une confirmation avant chaque effacement")
    }

    @Test func theFirstOfASeriesBringsTheOthers() async throws {
        let passage = SearchHit(chunkID: 6, file: "guide.txt", score: 0.9, text: """
            Le premier conseil pour un bon pain, c'est une farine de qualité.

            Le deuxième conseil est la patience : la pâte doit lever longtemps.

            Troisième conseil : un four très chaud, avec un bol d'eau pour la vapeur.

            La boulangerie est un métier ancien.
            """)
        let backend = ExtractiveBackend(maxQuotes: 1)
        let quotes = try await backend.quotes(question: "Quel est le conseil pour un bon pain ?", passages: [passage])
        #expect(quotes.count == 3)
        #expect(quotes.map(\.sentence).prefix(3) == ["Le premier conseil pour un bon pain, c'est une farine de qualité.",
                                                     "Le deuxième conseil est la patience : la pâte doit lever longtemps.",
                                                     "Troisième conseil : un four très chaud, avec un bol d'eau pour la vapeur."])
        // A question naming one member does not get the series.
        let second = try await backend.quotes(question: "Quel est le deuxième conseil pour un bon pain ?", passages: [passage])
        #expect(second.count == 1)
    }

    @Test func saysSoWhenNothingMatches() async throws {
        let answer = try await ExtractiveBackend().render(question: "Quelle est la capitale du Japon ?", passages: passages)
        #expect(answer.hasPrefix(ExtractiveBackend.noMatch))
        #expect(answer.contains("[1]"))
    }

    @Test func embeddingHookBlendsIn() async throws {
        // A fake embedding that favours sentences mentioning "Romains".
        let backend = ExtractiveBackend(maxQuotes: 1, embed: { texts in
            texts.map { $0.contains("Romains") ? [1, 0] : ($0.hasPrefix("Qui") ? [1, 0] : [0, 1]) }
        }, embeddingWeight: 0.9)
        let quotes = try await backend.quotes(question: "Qui greffait les pommes ?", passages: passages)
        #expect(quotes.first?.sentence == "Les Romains savaient la greffer.")
    }

    @Test("the FAQ entry asking what is asked is answered by its own section")
    func faqSectionOfTheMatchingQuestion() async throws {
        let passage = SearchHit(chunkID: 9, file: "faq.txt", score: 0.9, text: """
            7.2. Pourquoi les archives sont-elles si grosses ?

            Les archives contiennent les sources et les binaires de chaque version publiée.

            7.3. Pourquoi les noms des paquets Debian sont-ils si longs ?

            Le nom suit la convention paquet_version-révision_architecture.deb imposée par dpkg.
            """)
        let units = ExtractiveBackend.passageSentences(passage.text)
        #expect(units.first { $0.text.hasPrefix("Le nom suit") }?.sectionQuestion == "Pourquoi les noms des paquets Debian sont-ils si longs ?")
        #expect(units.first { $0.text.hasPrefix("7.3.") }?.isQuotable == false)
        // A fake embedding: the asked question is close to the second FAQ question, and the first
        // section's sentence is (a little) closer to it than the answer.
        let backend = ExtractiveBackend(maxQuotes: 1, embed: { texts in
            texts.map { text -> [Float] in
                if text.hasPrefix("Pourquoi les noms") || text.hasPrefix("Pourquoi le nom") { return [1, 0] }
                if text.hasPrefix("Les archives") { return [0.8, 0.6] }
                return [0.6, 0.8]
            }
        }, embeddingWeight: 0.85)
        let quotes = try await backend.quotes(question: "Pourquoi le nom des fichiers de paquets est-il si long ?", passages: [passage])
        #expect(quotes.first?.sentence.hasPrefix("Le nom suit la convention") == true)
        // Without a matching FAQ question, the sentences compete alone.
        let other = try await backend.quotes(question: "Quelle taille font les archives ?", passages: [passage])
        #expect(other.first?.sentence.hasPrefix("Les archives") == true)
    }

    /// A guess at the answer written for retrieval (`QueryExpander`) names the option the question
    /// only describes: its entry is quoted first, and the same option letter in another command's
    /// manual page gains nothing.
    @Test func guessedOptionPicksItsEntry() async throws {
        let ls = SearchHit(chunkID: 31, file: "man/ls.1.txt", score: 0.8, text: """
            ls - Afficher le contenu de répertoires

            -A, --almost-all
            ne pas afficher les entrées cachées implicites « . » et « .. »

            -a, --all
            ne pas ignorer les entrées cachées débutant par « . »
            """)
        let question = "Comment lister les entrées cachées ?"
        let guess = "Utilisez la commande `ls -a` pour lister les entrées cachées."
        let backend = ExtractiveBackend(maxQuotes: 1)
        let plain = try await backend.quotes(question: question, passages: [ls])
        #expect(plain.first?.sentence.hasPrefix("-A, --almost-all") == true)
        let guessed = try await backend.quotes(question: question, passages: [ls], guess: guess)
        #expect(guessed.first?.sentence.hasPrefix("-a, --all") == true)

        let code = ExtractiveBackend.guessedCode(guess)
        #expect(code.map(\.command) == ["ls"] && code.first?.options == ["-a"])
        // an option alone goes with the command named before it; fences, prompts, sudo, pipelines
        let spans = ExtractiveBackend.guessedCode("Essayez `--all`, puis `tail -f -n5 journal` et `-F` ; ou :\n```bash\n$ sudo du -sh * | sort -h\n```")
        #expect(spans.map(\.command) == ["tail", "du", "sort"])
        #expect(spans.map(\.options) == [["-f", "-n5", "-n", "-F"], ["-sh", "-s"], ["-h"]])
        #expect(ExtractiveBackend.entryNamesGuessedCode("-a, --all ne pas ignorer", file: "man/ls.1.txt", code: code))
        #expect(!ExtractiveBackend.entryNamesGuessedCode("-a, --auto-compress choisir la compression", file: "man/tar.1.txt", code: code))
        #expect(ExtractiveBackend.entryNamesGuessedCode("du - Évaluer l'espace disque occupé par des fichiers", file: "du.1.txt",
                                                        code: ExtractiveBackend.guessedCode("la commande `du`")))
        #expect(!ExtractiveBackend.entryNamesGuessedCode("-a, --all ne pas ignorer", file: "man/ls.1.txt", code: []))
    }

    @Test func streamsPieces() async throws {
        let backend = ExtractiveBackend()
        let input = AnswerInput(question: "Quel est le secret d'une bonne tarte ?", passages: passages)
        var pieces: [String] = []
        for try await p in backend.answer(input, options: GenerationOptions()) { pieces.append(p) }
        #expect(pieces.count >= 2)
        #expect(pieces.joined() == (try await backend.render(question: input.question, passages: passages)))
    }
}
