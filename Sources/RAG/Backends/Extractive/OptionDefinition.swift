import Foundation
import Index

extension ExtractiveBackend {
    /// The command-line options a question names, as written (`-H`, `--jail`): a `-` or `--`
    /// that does not follow a letter or digit ("arrive-t-elle", "point-and-click" are words), then
    /// a letter or digit. Case is kept: `-h` and `-H` are different options.
    package static func options(in question: String) -> [String] {
        var found: [String] = []
        let scalars = Array(question.unicodeScalars)
        var i = 0
        while i < scalars.count {
            let previous = i > 0 ? scalars[i - 1] : " "
            guard scalars[i] == "-", !isOptionScalar(previous), previous != "'", previous != "’" else { i += 1; continue }
            var j = i + 1
            if j < scalars.count, scalars[j] == "-" { j += 1 }
            guard j < scalars.count, CharacterSet.alphanumerics.contains(scalars[j]) else { i = j; continue }
            var end = j
            while end < scalars.count, isOptionScalar(scalars[end]) || scalars[end] == "-" { end += 1 }
            while end > j, scalars[end - 1] == "-" { end -= 1 }
            let option = String(String.UnicodeScalarView(scalars[i..<end]))
            if !found.contains(option) { found.append(option) }
            i = end
        }
        return found
    }

    private static func isOptionScalar(_ s: Unicode.Scalar) -> Bool {
        CharacterSet.alphanumerics.contains(s) || s == "_"
    }

    /// The options a line defines: the comma-separated options it starts with (`-r, -R,
    /// --recursive`, `-H, --header=CHAMP`, `--jail=dir`), without their argument.
    static func definedOptions(_ line: String) -> [String] {
        var names: [String] = []
        for part in line.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard item.hasPrefix("-"), let name = options(in: item).first, item.hasPrefix(name) else { break }
            names.append(name)
            // "-o FICHIER  description" or "--out=FICHIER": what follows the name ends the list.
            if item.count > name.count { break }
        }
        return names
    }

    /// The definition of an option the question names ("À quoi sert l'option -H ?"). Manual pages
    /// and command references define an option by a line that starts with it ("-H, --header=CHAMP")
    /// and the lines under it: that line and its description answer the question whatever words
    /// the description uses, which sentence scoring cannot see. The description runs to a blank
    /// line or the next option's line, and stops after its first sentence once it holds
    /// `minimumCharacters` (an example usually follows), within `characters`.
    package static func optionDefinition(question: String, passages: [SearchHit], characters: Int = 600,
                                 minimumCharacters: Int = 60) -> Quote? {
        let asked = options(in: question)
        guard !asked.isEmpty else { return nil }
        for (index, passage) in passages.enumerated() {
            let lines = passage.text.components(separatedBy: "\n")
            for (l, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("-"), !definedOptions(trimmed).filter(asked.contains).isEmpty else { continue }
                var definition = [trimmed]
                var length = trimmed.count
                var description = trimmed.count - (definedOptions(trimmed).joined(separator: ", ").count)
                for next in lines.dropFirst(l + 1) {
                    let text = next.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty || !definedOptions(text).isEmpty { break }
                    if length + text.count > characters { break }
                    definition.append(text)
                    length += text.count + 1
                    description += text.count
                    if description >= minimumCharacters, let last = text.last, ".!…".contains(last) { break }
                }
                // An option merely listed (no description at all) does not answer.
                guard definition.count > 1 || description > 3 else { continue }
                return Quote(sentence: definition.joined(separator: "\n"), passage: index + 1, score: 0)
            }
        }
        return nil
    }
}
