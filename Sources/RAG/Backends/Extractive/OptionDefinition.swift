import Foundation
import Index
import TextAnalysis

extension ExtractiveBackend {
    /// The definition of an option the question names ("À quoi sert l'option -H ?"). Manual pages
    /// and command references define an option by a line that starts with it ("-H, --header=CHAMP")
    /// and the lines under it: that line and its description answer the question whatever words
    /// the description uses, which sentence scoring cannot see. The description runs to a blank
    /// line or the next option's line, and stops after its first sentence once it holds
    /// `minimumCharacters` (an example usually follows), within `characters`. A passage of the
    /// document the question names is read first.
    package static func optionDefinition(question: String, passages: [SearchHit], characters: Int = 600,
                                         minimumCharacters: Int = 60) -> Quote? {
        let asked = CommandOptions.named(in: question)
        guard !asked.isEmpty else { return nil }
        // The passages of a document named in the question first ("-x de tar": `tar.1.txt`).
        let words = Set(FrenchText.words(question))
        let named = passages.indices.filter { CommandOptions.names(file: passages[$0].file, questionWords: words) }
        for index in named + passages.indices.filter({ !named.contains($0) }) {
            let passage = passages[index]
            let lines = passage.text.components(separatedBy: "\n")
            for (l, line) in lines.enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard trimmed.hasPrefix("-"), CommandOptions.defined(byLine: trimmed).contains(where: asked.contains) else { continue }
                var definition = [trimmed]
                var length = trimmed.count
                var description = trimmed.count - CommandOptions.defined(byLine: trimmed).joined(separator: ", ").count
                for next in lines.dropFirst(l + 1) {
                    let text = next.trimmingCharacters(in: .whitespaces)
                    if text.isEmpty || !CommandOptions.defined(byLine: text).isEmpty { break }
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
