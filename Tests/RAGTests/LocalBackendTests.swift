import Decoder
import Encoder
import Foundation
import Index
import RAG
import Tensors
import TestSupport
import Testing

/// A tiny random-weight `llama` GGUF with a byte-level BPE vocabulary (every byte is a token, so
/// any text tokenizes) and ChatML specials, written by the tests.
enum TinyChatModel {
    /// GPT-2's byte → printable character table.
    static func byteChars() -> [String] {
        var bs: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [String](repeating: "", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = String(UnicodeScalar(UInt32(c)).map(Character.init) ?? "?") }
        return table
    }

    static func write(to path: String, chatTemplate: String?, context: Int = 4096) throws {
        var w = GGUFWriter()
        let a = "llama"
        let embd = 64, layers = 2, heads = 2, headsKV = 1, headDim = 32, ff = 128
        let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        let tokens = specials + byteChars()
        let vocab = tokens.count
        w.set("general.architecture", .string(a))
        w.set("\(a).context_length", .uint32(UInt32(context)))
        w.set("\(a).embedding_length", .uint32(UInt32(embd)))
        w.set("\(a).block_count", .uint32(UInt32(layers)))
        w.set("\(a).feed_forward_length", .uint32(UInt32(ff)))
        w.set("\(a).attention.head_count", .uint32(UInt32(heads)))
        w.set("\(a).attention.head_count_kv", .uint32(UInt32(headsKV)))
        w.set("\(a).attention.layer_norm_rms_epsilon", .float32(1e-6))
        w.set("\(a).rope.freq_base", .float32(10_000))
        w.set("\(a).rope.dimension_count", .uint32(UInt32(headDim)))
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("default"))
        w.set("tokenizer.ggml.tokens", .array(.string(tokens)))
        w.set("tokenizer.ggml.token_type", .array(.int32(tokens.indices.map { $0 < specials.count ? 3 : 1 })))
        w.set("tokenizer.ggml.merges", .array(.string([])))
        w.set("tokenizer.ggml.bos_token_id", .uint32(0))
        w.set("tokenizer.ggml.eos_token_id", .uint32(2))
        w.set("tokenizer.ggml.add_bos_token", .bool(false))
        if let chatTemplate { w.set("tokenizer.chat_template", .string(chatTemplate)) }
        var seed: UInt64 = 7
        func mat(_ name: String, rows: Int, cols: Int, scale: Float = 1) {
            seed += 1
            w.addTensor(name, dims: [cols, rows], type: .q8_0,
                        data: GGUFWriter.randomTensorData(.q8_0, rows: rows, cols: cols, seed: seed,
                                                          scale: scale / Float(cols).squareRoot() * 3))
        }
        func vec(_ name: String, _ n: Int) {
            w.addTensor(name, dims: [n], floats: [Float](repeating: 1, count: n))
        }
        mat("token_embd.weight", rows: vocab, cols: embd, scale: 8)
        vec("output_norm.weight", embd)
        for l in 0..<layers {
            let p = "blk.\(l)."
            vec(p + "attn_norm.weight", embd)
            mat(p + "attn_q.weight", rows: heads * headDim, cols: embd)
            mat(p + "attn_k.weight", rows: headsKV * headDim, cols: embd)
            mat(p + "attn_v.weight", rows: headsKV * headDim, cols: embd)
            mat(p + "attn_output.weight", rows: embd, cols: heads * headDim)
            vec(p + "ffn_norm.weight", embd)
            mat(p + "ffn_gate.weight", rows: ff, cols: embd)
            mat(p + "ffn_up.weight", rows: ff, cols: embd)
            mat(p + "ffn_down.weight", rows: embd, cols: ff)
        }
        try w.write(to: path)
    }

    static func path(_ name: String) -> String { NSTemporaryDirectory() + "tiny-rag-\(getpid())-\(name).gguf" }
}

@Suite("Local backend", .serialized)
struct LocalBackendTests {
    static let chatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"

    static let passages = [
        SearchHit(chunkID: 1, file: "a.txt", score: 3, text: "La tarte normande contient de la crème. Elle est cuite au four. On la sert tiède."),
        SearchHit(chunkID: 2, file: "b.pdf", page: 2, score: 2, text: "La tarte Tatin est renversée. Les pommes caramélisent au fond du moule."),
        SearchHit(chunkID: 3, file: "a.txt", score: 1, text: String(repeating: "Une phrase de remplissage assez longue. ", count: 40)),
    ]

    static func input(_ q: String = "Quelles variantes ?") -> AnswerInput {
        AnswerInput(question: q, passages: passages)
    }

    static func collect(_ s: AsyncThrowingStream<String, Error>) async throws -> [String] {
        var out: [String] = []
        for try await p in s { out.append(p) }
        return out
    }

    @Test func chatModeStreamsAndIsDeterministic() async throws {
        let path = TinyChatModel.path("chat")
        try TinyChatModel.write(to: path, chatTemplate: Self.chatML)
        defer { unlink(path) }
        let b = try LocalBackend(modelPath: path, contextLength: 2048, maxTokens: 24, threads: 2)
        #expect(b.name == "local")
        #expect(b.promptMode == .chat(ChatTemplate(family: .chatML)))
        #expect(b.stopTokens.contains(2))
        #expect(b.info.contains("chatml"))
        let options = GenerationOptions(maxTokens: 24, temperature: 0, timeout: 60)
        let pieces = try await Self.collect(b.answer(Self.input(), options: options))
        var direct = ""
        let stats = try b.generate(Self.input(), options: options) { direct += $0 }
        #expect(pieces.joined() == direct)
        #expect(stats != nil)
        // Two at a time: served one after the other, same greedy answer.
        async let x = Self.collect(b.answer(Self.input(), options: options))
        async let y = Self.collect(b.answer(Self.input(), options: options))
        let (rx, ry) = try await (x, y)
        #expect(rx.joined() == direct && ry.joined() == direct)
    }

    @Test func completionModeWithoutTemplate() async throws {
        let path = TinyChatModel.path("base")
        try TinyChatModel.write(to: path, chatTemplate: nil)
        defer { unlink(path) }
        let b = try LocalBackend(modelPath: path, contextLength: 2048, maxTokens: 16, threads: 1)
        #expect(b.promptMode == .completion(PromptBuilder.defaultCompletionStyle))
        #expect(b.stopStrings.contains("\nQuestion"))
        var text = ""
        let stats = try b.generate(Self.input(), options: GenerationOptions(maxTokens: 16, temperature: 0)) { text += $0 }
        #expect((stats?.generatedTokens ?? 0) <= 16)
        #expect(!text.contains("\nQuestion"))
    }

    @Test func contextBudgetWithATinyContext() throws {
        let path = TinyChatModel.path("budget")
        try TinyChatModel.write(to: path, chatTemplate: Self.chatML)
        defer { unlink(path) }
        // Each byte is a token: the rules and the question alone are ~600 tokens. 900 tokens of
        // context, 100 for the answer: the long third passage is dropped or shortened.
        let b = try LocalBackend(modelPath: path, contextLength: 900, maxTokens: 100, threads: 1,
                                 tuning: LocalAnswerTuning(useRequestTemperature: true))
        #expect(b.contextLength == 900)
        let full = b.promptTokens(question: "Quelles variantes ?", passages: Self.passages, history: [])
        #expect(full.count > 900)
        let fitted = try b.fittedPrompt(Self.input(), answerTokens: 100)
        #expect(fitted.tokens.count <= 800)
        #expect(fitted.passages.first?.text == Self.passages[0].text)
        #expect(fitted.passages.count < 3 || fitted.passages[2].text.hasSuffix("[…]"))
        // Generation within the budget never overflows the context.
        var n = 0
        let stats = try b.generate(Self.input(), options: GenerationOptions(maxTokens: 100, temperature: 0.8)) { _ in n += 1 }
        #expect(stats.map { $0.promptTokens + $0.generatedTokens <= 900 } == true)
        // A context too small for even the rules and the question: a clear error, no overflow.
        let tiny = try LocalBackend(modelPath: path, contextLength: 200, maxTokens: 50, threads: 1)
        #expect(throws: RAGError.self) {
            try tiny.generate(Self.input(), options: GenerationOptions(maxTokens: 50)) { _ in }
        }
    }

    @Test func cancellingTheStreamStopsGeneration() async throws {
        let path = TinyChatModel.path("cancel")
        try TinyChatModel.write(to: path, chatTemplate: Self.chatML, context: 4096)
        defer { unlink(path) }
        let b = try LocalBackend(modelPath: path, contextLength: 4096, maxTokens: 3000, threads: 1,
                                 tuning: LocalAnswerTuning(repeatGuard: 0, useRequestTemperature: true))
        let options = GenerationOptions(maxTokens: 3000, temperature: 1, timeout: 600)
        // The consumer reads one piece then goes away.
        let consumer = Task { () -> Int in
            var n = 0
            for try await _ in b.answer(Self.input(), options: options) {
                n += 1
                if n == 1 { break }
            }
            return n
        }
        #expect(try await consumer.value == 1)
        // The model is free again well before 3,000 tokens could have been generated: the next
        // generation stops itself through its flag, and reports it.
        let flag = CancelFlag()
        var pieces = 0
        let stats = try b.generate(Self.input(), options: options, cancelled: flag) { _ in
            pieces += 1
            if pieces == 3 { flag.set() }
        }
        #expect(stats?.stopReason == .cancelled)
        #expect((stats?.generatedTokens ?? 0) < 60)
        // Cancelling the consuming task works the same way.
        let task = Task {
            var n = 0
            for try await _ in b.answer(Self.input(), options: options) { n += 1 }
            return n
        }
        try await Task.sleep(nanoseconds: 200_000_000)
        task.cancel()
        let n = try? await task.value
        #expect((n ?? 0) < 3000)
    }

    @Test func missingFileNamesIt() {
        let error = #expect(throws: RAGError.self) {
            try LocalBackend(modelPath: "/nonexistent/model.gguf", maxTokens: 8)
        }
        #expect(error.map { "\($0)".contains("/nonexistent/model.gguf") } == true)
    }

    @Test func truncatedFileNamesIt() throws {
        let path = TinyChatModel.path("trunc")
        try TinyChatModel.write(to: path, chatTemplate: nil)
        defer { unlink(path) }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: RAGError.self) {
            try LocalBackend(modelPath: path, maxTokens: 8)
        }
        #expect(error.map { "\($0)".contains(path) } == true, "\(String(describing: error))")
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The real Gemma 3 270M file (`make models`) answers each test question of DESIGN.md from the
    /// passages `ragchat serve` retrieves (hybrid search with the real encoder over `data/`).
    @Test(arguments: ["Quelles sont les différentes variantes de la tarte aux pommes ?",
                      "Comment faire une tarte aux pommes ?",
                      "Quel est le secret d'une bonne tarte aux pommes ?"])
    func gemmaAnswersTheTestQuestions(question: String) async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ragchat-local-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = try SentenceEncoder(directory: Self.root.appendingPathComponent("models/encoder/all-MiniLM-L6-v2"))
        let store = try openIndexStore(at: dir.appendingPathComponent("index.sqlite").path)
        _ = try await store.ingest(dataDirectory: Self.root.appendingPathComponent("data"), embedder: encoder)
        let retriever = IndexRetriever(search: { query, k in try store.search(query, mode: .hybrid, embedder: encoder, k: k) })
        let passages = try await retriever.retrieve(query: question, k: 4)
        #expect(passages.count == 4)
        let backend = try LocalBackend(modelPath: Self.root.appendingPathComponent("models/decoder/gemma-3-270m-q4_k_m.gguf").path,
                                       maxTokens: 128)
        #expect(backend.promptMode == .completion(PromptBuilder.defaultCompletionStyle))
        let input = AnswerInput(question: question, passages: passages)
        let start = Date()
        var first: Double?
        var answer = ""
        for try await piece in backend.answer(input, options: GenerationOptions(maxTokens: 128, temperature: 0, timeout: 300)) {
            if first == nil { first = Date().timeIntervalSince(start) }
            answer += piece
        }
        print("gemma-3-270m: \(question) first text after \(first ?? -1) s; answer: \(answer)")
        #expect(answer.localizedCaseInsensitiveContains("tarte") || answer.localizedCaseInsensitiveContains("pomme"), "\(answer)")
        let cited = Set(answer.matches(of: #/\[(\d+)\]/#).compactMap { Int($0.output.1) })
        #expect(cited.allSatisfy { (1...4).contains($0) }, "\(answer)")
        // Each answer quotes its answering passage (focused passages, the opening from the
        // question, the copy bias) and cites it.
        #expect(!cited.isEmpty, "\(answer)")
        if question.contains("secret") {
            #expect(answer.contains("choix des pommes"), "\(answer)")
        } else if question.contains("variantes") {
            #expect(answer.contains("principales variantes"), "\(answer)")
        } else {
            #expect(answer.contains("pâte brisée"), "\(answer)")
        }
        // No sentence repeated.
        let sentences = answer.split(whereSeparator: { ".!?".contains($0) }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.count > 10 }
        #expect(Set(sentences).count == sentences.count, "\(answer)")
    }

    @Test func answerShaperCitesAndStopsRepeats() {
        var s = AnswerShaper(passages: ["Les pommes fermes tiennent à la cuisson au four.", "La tarte Tatin est renversée après cuisson."])
        var out = s.feed("La tarte Tatin est renversée. ")
        out += s.feed("Les pommes fermes tiennent bien. Une phrase sans rapport ici.")
        out += s.feed(" La tarte Tatin est renv")
        out += s.feed("ersée. Encore")
        out += s.finish()
        #expect(out == "La tarte Tatin est renversée [2]. Les pommes fermes tiennent bien [1]. Une phrase sans rapport ici. ")
        #expect(s.stopped)
        var t = AnswerShaper(passages: ["Cuire 45 minutes à 180 degrés."])
        #expect(t.feed("Cuire 2.5 fois plus longtemps [1]. Fin") + t.finish() == "Cuire 2.5 fois plus longtemps [1]. Fin")
        // Near repeats (the same but for a number) end the answer too; a sentence that only starts
        // like an earlier one is held until it ends, then shown whole.
        var u = AnswerShaper(passages: [], addCitations: false)
        var list = u.feed("La tarte à la crème : pâte sucrée, 5. La tarte à la crème se sert tiède. ")
        list += u.feed("La tarte à la crème : pâte sucrée, 6. Autre chose.")
        list += u.finish()
        #expect(list == "La tarte à la crème : pâte sucrée, 5. La tarte à la crème se sert tiède. ")
        #expect(u.stopped)
        #expect(AnswerShaper.nearRepeat("Il n'est pas toujours facile de faire une pâte", of: "Il n'est pas toujours facile de faire une tarte"))
        #expect(!AnswerShaper.nearRepeat("La tarte Tatin est renversée", of: "La tarte normande a de la crème"))
    }
}
