// libFuzzer target: the GGUF reader and what a model load reads from it before any forward pass
// (metadata, tensor infos, small tensors, the tokenizer, the decoder's ModelConfig, the chat
// template). Any trap is a crash; a thrown error must name the file. Built by `make fuzz`.
#if canImport(Glibc)
import Glibc
#endif
import Decoder
import FuzzSupport
import Tensors
import Tokenizers

private let input = FuzzInputFile(fileExtension: "gguf")
private var path: String { input.path }
private func check(_ error: any Error) { input.check(error) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    input.store(data, size)
    let file: GGUFFile
    do { file = try GGUFFile(path: path) } catch { check(error); return 0 }
    _ = file.architecture
    for key in file.keys {
        _ = try? file.int(key); _ = try? file.float(key); _ = try? file.string(key)
        _ = try? file.ints(key); _ = try? file.floats(key); _ = try? file.strings(key)
    }
    for t in file.tensors {
        _ = t.elementCount
        _ = t.byteCount
        // Small tensors as a load reads norms and biases (bounds were checked at open).
        if t.byteCount <= 1 << 16, t.elementCount <= 1 << 16 {
            do { _ = try file.floatVector(t.name) } catch { check(error) }
        }
    }
    do { _ = try ModelConfig.read(from: file) } catch { check(error) }
    _ = ChatTemplate.from(file)
    do {
        let tokenizer = try GGUFTokenizerLoader.load(file)
        for text in ["Bonjour, le monde ! <s> 123 été", " \n\t ", "<|im_start|>user\nQuoi ?<|im_end|>"] {
            let ids = tokenizer.tokenize(text, addBOS: true, parseSpecial: true)
            _ = tokenizer.decode(ids, renderSpecial: true)
            var detok = tokenizer.makeStreamingDetokenizer()
            _ = detok.append(contentsOf: ids)
            _ = detok.flush()
        }
        // Every piece of the vocabulary (as generation may produce any id), first 4096.
        let ids = (0..<Int32(min(tokenizer.vocabSize, 4096)))
        _ = tokenizer.decode(Array(ids), renderSpecial: true)
        for id in ids { _ = tokenizer.pieceBytes(id, renderSpecial: false); _ = tokenizer.tokenType(id) }
    } catch { check(error) }
    return 0
}
