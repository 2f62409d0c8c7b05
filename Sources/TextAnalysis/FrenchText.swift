import Foundation

/// Character-level French text helpers shared by keyword search, the relevance gate and the
/// answer checks: case and accent folding, elisions, stop words.
public enum FrenchText {
    /// Lower-case without diacritics, ligatures spelt out: "Élève Œuf" → "eleve oeuf".
    public static func fold(_ text: String) -> String {
        stripDiacritics(text.lowercased())
    }

    /// Without diacritics, ligatures spelt out and typographic apostrophes made plain, case kept:
    /// "Élève Œuf" → "Eleve OEuf".
    public static func stripDiacritics(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            switch scalar {
            case "œ": out.append("o"); out.append("e")
            case "Œ": out.append("O"); out.append("E")
            case "æ": out.append("a"); out.append("e")
            case "Æ": out.append("A"); out.append("E")
            case "ß": out.append("s"); out.append("s")
            case "’", "‘", "ʼ": out.append("'")
            default:
                let category = scalar.properties.generalCategory
                if category == .nonspacingMark || category == .enclosingMark { continue }
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Is this scalar part of a word (letters, digits, combining marks)?
    @inline(__always)
    public static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            let v = scalar.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
        }
        let properties = scalar.properties
        return properties.isAlphabetic || properties.numericType != nil
            || properties.generalCategory == .nonspacingMark || properties.generalCategory == .spacingMark
    }

    /// Folded words (letters and digits) in order, elided articles and pronouns dropped
    /// ("l'option" → "option"): for overlap measures between a question and a sentence.
    public static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func flush(apostrophe: Bool) {
            guard !current.isEmpty else { return }
            let word = String(current)
            current = String.UnicodeScalarView()
            if apostrophe, elisions.contains(word) { return }
            words.append(word)
        }
        for scalar in fold(text).unicodeScalars {
            if isWordScalar(scalar) {
                current.append(scalar)
            } else {
                flush(apostrophe: scalar == "'")
            }
        }
        flush(apostrophe: false)
        return words
    }

    /// Content words: folded, without stop words and 1-letter tokens, plural marks dropped
    /// (`pluralStem`) so that "pommes" matches "pomme": for overlap between a question and a
    /// sentence, where Snowball's stems (keyword search) would merge too much.
    public static func contentWords(_ text: String) -> [String] {
        words(text).compactMap { w in
            guard w.count > 1, !stopWords.contains(w) else { return nil }
            return pluralStem(w)
        }
    }

    /// A very light French stemmer: plural marks only ("chevaux" → "cheval", "pommes" → "pomme").
    public static func pluralStem(_ w: String) -> String {
        guard w.count > 3, !w.allSatisfy(\.isNumber) else { return w }
        if w.hasSuffix("aux") { return String(w.dropLast(3)) + "al" }
        if w.hasSuffix("s") || w.hasSuffix("x") { return String(w.dropLast()) }
        return w
    }

    /// Words that French writes elided before a vowel (`l'`, `qu'`, `jusqu'`…), folded.
    public static let elisions: Set<String> = [
        "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu", "quelqu",
    ]

    /// Function words of French (and a few English ones, for English questions over French
    /// documents), folded: articles, pronouns, prepositions, auxiliaries, and the words that
    /// frame a question without saying what it is about ("comment", "quels", "expliquer").
    /// Keyword search ignores them on both sides; overlap measures ignore them too.
    public static let stopWords: Set<String> = Set([
        // articles, determiners, pronouns
        "a", "au", "aux", "ce", "ces", "cet", "cette", "de", "des", "du", "la", "le", "les", "un", "une", "l", "d",
        "j", "m", "n", "s", "t", "c", "qu", "y", "je", "tu", "il", "elle", "on", "nous", "vous", "ils", "elles",
        "me", "te", "se", "moi", "toi", "lui", "eux", "leur", "leurs", "mon", "ma", "mes", "ton", "ta", "tes",
        "son", "sa", "ses", "notre", "nos", "votre", "vos", "celui", "celle", "ceux", "celles", "cela", "ca",
        "ceci", "qui", "que", "quoi", "dont", "ou", "lequel", "laquelle", "lesquels", "lesquelles", "quel",
        "quelle", "quels", "quelles", "meme", "memes", "tout", "tous", "toute", "toutes", "chaque", "quelque",
        "quelques", "autre", "autres", "certains", "certaines", "aucun", "aucune",
        // prepositions, conjunctions, adverbs
        "avec", "dans", "en", "et", "mais", "ni", "or", "donc", "car", "par", "pour", "sur", "sous", "sans",
        "entre", "vers", "chez", "contre", "depuis", "pendant", "selon", "avant", "apres", "si", "comme",
        "ainsi", "alors", "aussi", "bien", "tres", "trop", "plus", "moins", "encore", "deja", "puis", "ici",
        "la", "non", "oui", "ne", "pas", "jamais", "toujours", "souvent", "lorsque", "quand", "puisque",
        // être, avoir and the modal verbs in their common forms
        "est", "sont", "etre", "ete", "etait", "etaient", "sera", "seront", "serait", "soit", "sont", "suis",
        "es", "sommes", "etes", "ai", "as", "avons", "avez", "ont", "avait", "avaient", "aura", "auront",
        "aurait", "eu", "avoir", "peut", "peuvent", "pouvez", "pourrait", "peux", "pourrais", "pourriez",
        "doit", "doivent", "devez", "dois", "faut", "veut", "veux", "voulez",
        // words that frame a question
        "comment", "pourquoi", "combien", "quoi", "existe", "existent", "exister", "dire", "dit", "dis",
        "faire", "fait", "fais", "font", "explique", "expliquer", "expliquez", "savoir", "sais", "connaitre",
        "different", "differente", "differents", "differentes", "chose", "choses", "etc",
        // English
        "the", "an", "and", "of", "to", "in", "is", "are", "was", "were", "be", "how", "what", "which",
        "who", "why", "when", "where", "do", "does", "did", "can", "could", "it", "its", "this", "that",
        "these", "those", "there", "about", "from", "by", "at", "as", "with", "for",
    ])
}
