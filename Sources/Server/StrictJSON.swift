import Foundation

/// What Foundation's `JSONDecoder` lets through but RFC 8259 does not allow, or allows with
/// undefined meaning: a comma before `}` or `]`, and a key twice in one object (which of the two
/// would count?). Checked on request bodies before decoding; the rest of the grammar is the
/// decoder's.
package enum StrictJSON {
    struct Violation: Error, CustomStringConvertible {
        var message: String
        var offset: Int
        var description: String { "\(message) at byte \(offset)" }
    }

    package static func check(_ data: Data) throws {
        // One frame per open container: is it an object, its keys so far, is a key expected next.
        struct Frame { var isObject: Bool; var keys: Set<Data> = []; var expectingKey = false }
        var stack: [Frame] = []
        var lastSignificant: UInt8 = 0
        var i = data.startIndex
        while i < data.endIndex {
            let byte = data[i]
            switch byte {
            case UInt8(ascii: "\""):
                let start = i + 1
                var j = start
                while j < data.endIndex, data[j] != UInt8(ascii: "\"") {
                    j += data[j] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard j < data.endIndex else { return }   // unterminated: the decoder says so
                if var top = stack.last, top.isObject, top.expectingKey {
                    let key = normalisedKey(data[start..<j])
                    guard top.keys.insert(key).inserted else {
                        throw Violation(message: "duplicate key \"\(String(decoding: data[start..<j], as: UTF8.self))\"",
                                        offset: start - data.startIndex)
                    }
                    top.expectingKey = false
                    stack[stack.count - 1] = top
                }
                i = j
            case UInt8(ascii: "{"): stack.append(Frame(isObject: true, expectingKey: true))
            case UInt8(ascii: "["): stack.append(Frame(isObject: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if lastSignificant == UInt8(ascii: ",") {
                    throw Violation(message: "comma before '\(Character(Unicode.Scalar(byte)))'", offset: i - data.startIndex)
                }
                _ = stack.popLast()
            case UInt8(ascii: ","):
                if stack.last?.isObject == true { stack[stack.count - 1].expectingKey = true }
            default: break
            }
            if !(byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09) { lastSignificant = data[i] }
            i += 1
        }
    }

    /// Keys compared after unescaping (`"a"` and `"\u0061"` are the same key).
    private static func normalisedKey(_ raw: Data) -> Data {
        guard raw.contains(UInt8(ascii: "\\")) else { return raw }
        let quoted = Data("\"".utf8) + raw + Data("\"".utf8)
        if let s = try? JSONDecoder().decode(String.self, from: quoted) { return Data(s.utf8) }
        return raw
    }
}
