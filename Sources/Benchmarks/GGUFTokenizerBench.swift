// Tokenizer benchmark for `ragchat bench`: load time, then tokenize / decode time for a
// French RAG-style prompt of about 2,000 tokens.

import Tensors
import Tokenizers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures a GGUF tokenizer on a ~2,000-token French prompt.
public enum GGUFTokenizerBench {
    public struct Result: Sendable, CustomStringConvertible {
        public let model: String
        /// GGUF open (header and metadata parse), seconds.
        public let openSeconds: Double
        /// Tokenizer build from the parsed metadata, seconds.
        public let buildSeconds: Double
        public let promptBytes: Int
        public let promptTokens: Int
        /// Bytes of the decoded prompt (control tokens render as nothing).
        public let decodedBytes: Int
        /// Median over the iterations, milliseconds.
        public let tokenizeMillis: Double
        public let decodeMillis: Double
        public let streamMillis: Double

        public var description: String {
            func f(_ x: Double, _ d: Int = 2) -> String {
                let p = pow(10.0, Double(d))
                return String((x * p).rounded() / p)
            }
            return "\(model): GGUF open \(f(openSeconds * 1000, 1)) ms, tokenizer build \(f(buildSeconds * 1000, 1)) ms, tokenize \(promptTokens) tokens "
                + "(\(promptBytes) bytes) in \(f(tokenizeMillis, 3)) ms "
                + "(\(Int((Double(promptTokens) / (tokenizeMillis / 1000)).rounded())) tok/s), "
                + "decode \(f(decodeMillis, 3)) ms, streaming detokenizer \(f(streamMillis, 3)) ms"
        }
    }

    /// A French prompt (passages about apple tarts with accents, numbers, punctuation) of about
    /// `targetTokens` tokens for `tokenizer`.
    public static func frenchPrompt(for tokenizer: any TextTokenizer, targetTokens: Int = 2000) -> String {
        let paragraphs = [
            "Passage 1 : La tarte aux pommes est un dessert traditionnel français. On prépare une pâte brisée avec 250 g de farine, 125 g de beurre demi-sel, une pincée de sel et un peu d'eau froide.",
            "Passage 2 : Préchauffez le four à 180 °C (thermostat 6). Épluchez quatre pommes golden, coupez-les en fines lamelles et disposez-les en rosace sur le fond de tarte.",
            "Passage 3 : « Quel est le secret d'une bonne tarte ? » demande-t-on souvent. Il faut saupoudrer de sucre vanillé, ajouter quelques noisettes de beurre, puis cuire 35 à 40 minutes.",
            "Passage 4 : Dans le Nord, on sert la tarte tiède avec une crème fraîche épaisse ; en Alsace, on y verse un appareil à base d'œufs et de crème — c'est délicieux !",
        ]
        var text = "Réponds à la question en t'appuyant uniquement sur les passages suivants.\n\n"
        var i = 0
        while tokenizer.tokenize(text, addBOS: true, parseSpecial: false).count < targetTokens {
            text += paragraphs[i % paragraphs.count] + "\n"
            i += 1
        }
        return text + "\nQuestion : Comment faire une tarte aux pommes ?\nRéponse :"
    }

    /// Loads the tokenizer of `modelPath` and times it (`iterations` runs, median).
    public static func run(modelPath: String, iterations: Int = 50) throws -> Result {
        var tokenizer: (any TextTokenizer)?
        var file: GGUFFile?
        let open = try seconds { file = try GGUFFile(path: modelPath) }
        guard let gguf = file else { throw TokenizersError.malformed(file: modelPath, detail: "cannot open") }
        let build = try seconds { tokenizer = try GGUFTokenizerLoader.load(gguf) }
        guard let tok = tokenizer else { throw TokenizersError.malformed(file: modelPath, detail: "no tokenizer") }
        let prompt = frenchPrompt(for: tok)
        var ids: [Int32] = []
        var tTok: [Double] = [], tDec: [Double] = [], tStream: [Double] = []
        var decodedBytes = 0
        for _ in 0..<max(1, iterations) {
            tTok.append(seconds { ids = tok.tokenize(prompt, addBOS: true, parseSpecial: true) })
            var text = ""
            tDec.append(seconds { text = tok.decode(ids) })
            tStream.append(seconds {
                var s = tok.makeStreamingDetokenizer()
                var out = ""
                for id in ids { out += s.append(id) }
                out += s.flush()
                text = out
            })
            decodedBytes = text.utf8.count
        }
        func median(_ a: [Double]) -> Double { a.sorted()[a.count / 2] * 1000 }
        let name = modelPath.split(separator: "/").last.map(String.init) ?? modelPath
        return Result(model: name, openSeconds: open, buildSeconds: build, promptBytes: prompt.utf8.count,
                      promptTokens: ids.count, decodedBytes: decodedBytes, tokenizeMillis: median(tTok), decodeMillis: median(tDec),
                      streamMillis: median(tStream))
    }

    /// Seconds `body` takes.
    private static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = MonotonicClock.now()
        try body()
        return MonotonicClock.seconds(since: start)
    }

    /// `run` on each path, as printable lines.
    public static func lines(modelPaths: [String], iterations: Int = 50) -> [String] {
        modelPaths.map { path in
            do { return try run(modelPath: path, iterations: iterations).description } catch { return "\(path): \(error)" }
        }
    }
}
