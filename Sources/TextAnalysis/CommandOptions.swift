import Foundation

/// Command-line options in questions and in the documents that define them (manual pages,
/// command references): "À quoi sert l'option -H ?" and the line "-H, --header=CHAMP".
public enum CommandOptions {
    /// The options a text names, as written (`-H`, `--jail`): a `-` or `--` that does not follow
    /// a letter, a digit or an apostrophe ("arrive-t-elle", "point-and-click" are words), then a
    /// letter or digit. Case is kept: `-h` and `-H` are different options.
    public static func named(in text: String) -> [String] {
        var found: [String] = []
        let scalars = Array(text.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let previous = i > 0 ? scalars[i - 1] : " "
            guard scalars[i] == "-", !isNameScalar(previous), previous != "'", previous != "’", previous != "-" else { i += 1; continue }
            var j = i + 1
            if j < scalars.count, scalars[j] == "-" { j += 1 }
            guard j < scalars.count, CharacterSet.alphanumerics.contains(scalars[j]) else { i = j; continue }
            var end = j
            while end < scalars.count, isNameScalar(scalars[end]) || scalars[end] == "-" { end += 1 }
            while end > j, scalars[end - 1] == "-" { end -= 1 }
            let option = String(String.UnicodeScalarView(scalars[i..<end]))
            if !found.contains(option) { found.append(option) }
            i = end
        }
        return found
    }

    private static func isNameScalar(_ s: Unicode.Scalar) -> Bool {
        CharacterSet.alphanumerics.contains(s) || s == "_"
    }

    /// The options a line defines: the comma-separated options it starts with (`-r, -R,
    /// --recursive`, `-H, --header=CHAMP`, `--jail=dir`), without their argument; none when the
    /// line does not start with an option.
    public static func defined(byLine line: String) -> [String] {
        var names: [String] = []
        for part in line.trimmingCharacters(in: .whitespaces).split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard item.hasPrefix("-"), let name = named(in: item).first, item.hasPrefix(name) else { break }
            // After the name: nothing, an argument ("=FICHIER", " FICHIER", "[=WHEN]", "<n>") or the
            // description; "-R) option…" is prose that wrapped, not a definition.
            if let after = item.dropFirst(name.count).first, !"= \t[<".contains(after) { break }
            names.append(name)
            // "-o FICHIER  description" or "--out=FICHIER": what follows the name ends the list.
            if item.count > name.count { break }
        }
        return names
    }

    /// Whether the question names the document `file` (a path in the data folder): a manual page
    /// is named after its command ("-x de tar" and `tar.1.txt`), so its name before the first
    /// dot is one of the question's words (`questionWords`: `FrenchText.words` of the question).
    public static func names(file: String, questionWords: Set<String>) -> Bool {
        let base = (file.split(separator: "/").last ?? "").split(separator: ".").first ?? ""
        return questionWords.contains(FrenchText.fold(String(base)))
    }

    /// Whether `text` has a line defining one of `options`.
    public static func defines(_ options: [String], in text: String) -> Bool {
        text.split(separator: "\n").contains { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("-") && defined(byLine: String(line)).contains(where: options.contains)
        }
    }
}
