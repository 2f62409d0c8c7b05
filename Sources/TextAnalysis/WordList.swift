import Foundation

/// The words of a language, to tell them from names and commands: "violoncelle", "retape" and
/// "password" are words; "dnf", "regedit", "WireGuard" are not.
///
/// Read from plain lists, one inflected form per line (Debian's `wfrench` and `wamerican`
/// packages: `/usr/share/dict/french`, 346,000 forms, and `american-english`, whose capitalised
/// entries, names, are left out). Kept folded (`FrenchText.fold`: lower case, no diacritics, so
/// that "eteint" typed without accents is still "éteint") and sorted.
public struct WordList: Sendable, CustomStringConvertible {
    private let words: [String]

    /// The French and English lists of this machine, read once; `nil` when neither is installed.
    public static let installed: WordList? = {
        let lists = ["french", "american-english"].map { URL(fileURLWithPath: "/usr/share/dict/" + $0) }
            .filter { FileManager.default.isReadableFile(atPath: $0.path) }
        return lists.isEmpty ? nil : try? WordList(contentsOf: lists)
    }()

    public init(contentsOf files: [URL]) throws {
        var all: [String] = []
        for file in files {
            for line in String(decoding: try Data(contentsOf: file), as: UTF8.self).split(whereSeparator: \.isNewline)
            where line.first?.isUppercase != true && !line.hasSuffix("'s") {
                all.append(String(line))
            }
        }
        self.init(all)
    }

    public init<S: Sequence>(_ words: S) where S.Element == String {
        self.words = Array(Set(words.map(FrenchText.fold).filter { !$0.isEmpty })).sorted()
    }

    public var count: Int { words.count }

    public var description: String { "WordList(\(words.count) words)" }

    /// Whether `word` belongs to the language: listed as it is; or made of a listed word and the
    /// productive prefix re-/ré- ("retélécharge"); or a compound whose part is listed ("wi-fi");
    /// or, at 4 letters or more, the start of a listed word (a clipped form: "perso", "appart");
    /// or, at 5 letters or more, one slip away from a listed word (a letter missing, added,
    /// replaced or swapped: "instaler", "configuraton"), so that a typing error is not taken for
    /// a name. Short names stay names: "dnf", "vba" are a letter away from many words.
    public func contains(_ word: String) -> Bool {
        let folded = FrenchText.fold(word)
        if folded.isEmpty || isListed(folded) { return true }
        if folded.hasPrefix("re"), folded.count > 4, isListed(String(folded.dropFirst(2))) { return true }
        let parts = folded.split(whereSeparator: { $0 == "-" || $0 == "'" })
        if parts.count > 1, parts.contains(where: { isListed(String($0)) }) { return true }
        if folded.count >= 4 && startsAListedWord(folded) { return true }
        // (Past 30 letters no word is listed, and the variants would cost time in the square.)
        return (5...30).contains(folded.count) && isOneSlipFromAListedWord(folded)
    }

    private static let letters = Array("abcdefghijklmnopqrstuvwxyz")

    private func isOneSlipFromAListedWord(_ folded: String) -> Bool {
        let chars = Array(folded)
        func listed(_ candidate: [Character]) -> Bool { candidate != chars && isListed(String(candidate)) }
        for i in 0...chars.count {
            for letter in Self.letters {
                var inserted = chars
                inserted.insert(letter, at: i)
                if listed(inserted) { return true }
            }
            guard i < chars.count else { break }
            var deleted = chars
            deleted.remove(at: i)
            if listed(deleted) { return true }
            for letter in Self.letters where letter != chars[i] {
                var replaced = chars
                replaced[i] = letter
                if listed(replaced) { return true }
            }
            if i + 1 < chars.count {
                var swapped = chars
                swapped.swapAt(i, i + 1)
                if listed(swapped) { return true }
            }
        }
        return false
    }

    private func isListed(_ folded: String) -> Bool {
        let index = lowerBound(folded)
        return index < words.count && words[index] == folded
    }

    private func startsAListedWord(_ folded: String) -> Bool {
        let index = lowerBound(folded)
        return index < words.count && words[index].hasPrefix(folded)
    }

    /// The first index whose word is not below `key`.
    private func lowerBound(_ key: String) -> Int {
        var low = 0, high = words.count
        while low < high {
            let middle = (low + high) / 2
            if words[middle] < key { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
