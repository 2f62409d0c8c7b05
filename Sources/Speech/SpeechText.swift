import Foundation

/// Turns an answer (markdown, citations, URLs, emoji) into plain text worth speaking.
public enum SpeechText {
    /// Cleans `text` for speech:
    /// - markdown links `[texte](url)` keep their text; bare URLs (`http…`, `www.…`) are dropped;
    /// - citations `[1]`, `[1, 2]`, `[1-3]`, `[1][2]` are dropped;
    /// - markdown emphasis (`**`, `__`, `*`, `_`, backticks), headings (`#`), quotes (`>`),
    ///   list bullets (`-`, `*`, `+`, `•`), table pipes and HTML tags are dropped;
    /// - emoji (and their joiners / variation selectors) are dropped;
    /// - lines are joined into sentences and whitespace collapsed.
    public static func clean(_ text: String) -> String {
        var lines: [String] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            var line = String(rawLine)
            line.replace(#/\[([^\]\[]+)\]\((?:[^)\s]+)\)/#) { String($0.output.1) }       // [text](url)
            line.replace(#/\b(?:https?|ftp)://[^\s<>()\[\]]*[^\s<>()\[\].,;:!?]/#.ignoresCase(), with: "")
            line.replace(#/\bwww\.[^\s<>()\[\]]*[^\s<>()\[\].,;:!?]/#.ignoresCase(), with: "")
            line.replace(#/\[\s*\d+(?:\s*[,;\-–]\s*\d+)*\s*\]/#, with: "")              // [1], [1, 2], [1-3]
            line.replace(#/<\/?[A-Za-z][^>]*>/#, with: "")                                   // HTML tags
            line.replace(#/^\s*(?:#{1,6}|>+)\s*/#, with: "")                                  // heading, quote
            line.replace(#/^\s*(?:[-*+•·▪◦‣]|\d+[.)])\s+/#) { m in                           // bullets
                let s = m.output.trimmingCharacters(in: .whitespaces)
                return s.first?.isNumber == true ? s + " " : ""
            }
            line.replace(#/\*\*|__|`+|~~/#, with: "")
            line = removingEmphasisMarks(line)
            line.replace(#/\s*\|\s*/#, with: ", ")
            line = removingEmoji(line)
            line.replace(#/\s+/#, with: " ")
            line.replace(#/\s+([,.;:!?])/#) { m in
                // French keeps a space before ; : ! ? — harmless for espeak; drop it before , and .
                let p = m.output.1
                return (p == "," || p == ".") ? String(p) : " " + p
            }
            line.replace(#/^[,;\s]+|[,;\s]+$/#, with: "")
            line.replace(#/([,;])\s*[,;]+/#) { String($0.output.1) }
            line.replace(#/\(\s*\)/#, with: "")
            line = line.trimmingCharacters(in: .whitespaces)
            if !line.isEmpty { lines.append(line) }
        }
        var out = ""
        for line in lines {
            if out.isEmpty { out = line; continue }
            if let last = out.last, ".!?:;,…".contains(last) { out += " " + line } else { out += ". " + line }
        }
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Drops `*` and `_` unless between two letters or digits (`snake_case` stays).
    static func removingEmphasisMarks(_ s: String) -> String {
        let chars = Array(s)
        var out = ""
        for (i, c) in chars.enumerated() {
            if c == "*" || c == "_" {
                let before = i > 0 && (chars[i - 1].isLetter || chars[i - 1].isNumber)
                let after = i + 1 < chars.count && (chars[i + 1].isLetter || chars[i + 1].isNumber)
                if !(before && after) { continue }
            }
            out.append(c)
        }
        return out
    }

    /// Drops emoji scalars, zero-width joiners, variation selectors and skin-tone modifiers;
    /// keeps digits, `#`, `*` and other characters that are only emoji in combination.
    public static func removingEmoji(_ s: String) -> String {
        var scalars = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            let p = u.properties
            if u.value == 0x200D || (0xFE00...0xFE0F).contains(u.value) || (0x1F3FB...0x1F3FF).contains(u.value)
                || (0xE0020...0xE007F).contains(u.value) || u.value == 0x20E3 { continue }
            if p.isEmojiPresentation || (p.isEmoji && u.value > 0x00FF && !(0x2000...0x206F).contains(u.value)
                                         && u.value != 0x2122 && u.value != 0x2139) { continue }
            scalars.append(u)
        }
        return String(scalars)
    }
}
