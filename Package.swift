// swift-tools-version:6.0
// RAGChat — a local, offline, French-first RAG chatbot server. See ../shared/DESIGN.md.
import PackageDescription
import Foundation  // ProcessInfo: the fuzz targets below

// The numeric targets (Tensors kernels, Encoder) are compiled for AVX2 + FMA on x86-64: SIMD
// code then uses 256-bit registers (about 13% more encoder throughput). Other targets keep
// the default baseline.
#if arch(x86_64)
let simdSwiftSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let simdSwiftSettings: [SwiftSetting] = []
#endif

let package = Package(
    name: "RAGChat",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ragchat", targets: ["ragchat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.24.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
        // The PostgreSQL + pgvector index (`--index postgres://…`): the wire protocol, pooled.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
    ],
    targets: [
        // System libraries (pkg-config).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib",
                       providers: [.apt(["libpoppler-glib-dev"])]),
        .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng",
                       providers: [.apt(["libespeak-ng-dev"])]),
        // Snowball stemmers; Debian's libstemmer-dev has no pkg-config file (headers and library
        // are in the default paths).
        .systemLibrary(name: "CStemmer", providers: [.apt(["libstemmer-dev"])]),

        // Libraries, bottom-up.
        // Innermost quantised loops: plain C reference, AVX2 and AVX-512/VNNI chosen at run time; see Sources/CKernels.
        .target(name: "CKernels"),
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CKernels"], swiftSettings: simdSwiftSettings),
        .target(name: "Tokenizers", dependencies: ["Tensors"]),
        .target(name: "Encoder", dependencies: ["Tensors", "Tokenizers"], swiftSettings: simdSwiftSettings),
        .target(name: "Decoder", dependencies: ["Tensors", "Tokenizers"]),
        .target(name: "Documents", dependencies: ["CPoppler"]),
        // French text analysis: folding, stop words, stems, keyword terms (search and answer checks).
        .target(name: "TextAnalysis", dependencies: ["CStemmer"]),
        .target(name: "Index", dependencies: [
            "Documents", "TextAnalysis",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .target(name: "Speech", dependencies: ["CEspeakNG", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "RAG", dependencies: [
            "Index", "Encoder", "Decoder", "Speech", "TextAnalysis", "Tensors",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "Server", dependencies: [
            "RAG", "Index", "Documents", "Tensors",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdCore", package: "hummingbird"),
            // Client authentication (bearer server key) and the request context's identity.
            .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            .product(name: "Crypto", package: "swift-crypto"),
            // Document uploads: a streaming multipart/form-data parser.
            .product(name: "MultipartKit", package: "multipart-kit"),
            // Endless responses (indexing events) end when the server shuts down gracefully.
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            // The connection pipeline (timeouts, when to close): NIO's HTTP/1 codec and HTTP-types bridge.
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // What the tests (and some benches) build on: writers of tiny GGUF, E5 and PDF files, a
        // fake OpenAI-compatible server, an in-memory keyword retriever. Not for the product.
        .target(name: "TestSupport", dependencies: [
            "Tensors", "Documents", "TextAnalysis", "RAG", "Server",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Speed figures for `ragchat bench` and BENCHMARKS.md (ingest, search, encoder, tokenizer,
        // decoder, speech, server, local answers): they measure, never assert. Kept out of the
        // library targets so that the server's modules hold no benchmark code.
        .target(name: "Benchmarks", dependencies: [
            "Tensors", "Tokenizers", "Encoder", "Decoder", "Documents", "TextAnalysis", "Index", "Speech", "RAG", "Server", "Evaluation", "TestSupport",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Question sets and their scoring (retrieval ranks, gate, answer keys): for `ragchat bench`
        // and the quality tests, not for the server.
        .target(name: "Evaluation", dependencies: ["Index", "Documents", "RAG", "TextAnalysis"]),
        .executableTarget(name: "ragchat", dependencies: [
            "Server", "RAG", "Index", "Documents", "Encoder", "Decoder", "Speech", "Evaluation", "Benchmarks", "TextAnalysis", "Tensors",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Tests.
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "Tensors", "Benchmarks", "TestSupport"]),
        .testTarget(name: "EncoderTests", dependencies: ["Encoder", "Tensors", "Tokenizers", "Benchmarks", "TestSupport"],
                    exclude: ["Resources"]),  // fixtures read from #filePath
        .testTarget(name: "DecoderTests", dependencies: ["Decoder", "Tensors", "Tokenizers", "TestSupport"]),
        .testTarget(name: "DocumentsTests", dependencies: ["Documents", "TestSupport"]),
        .testTarget(name: "TextAnalysisTests", dependencies: ["TextAnalysis"]),
        .testTarget(name: "IndexTests", dependencies: ["Index", "Documents", "Encoder", "RAG", "Evaluation", "Benchmarks", "TestSupport", "TextAnalysis", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "SpeechTests", dependencies: ["Speech", "Benchmarks"]),
        .testTarget(name: "RAGTests", dependencies: ["RAG", "Index", "Decoder", "Tensors", "Encoder", "TextAnalysis", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: [
            "Server", "RAG", "Benchmarks", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "CLITests", dependencies: ["ragchat", "Index", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Index", "Encoder", "RAG", "TextAnalysis", .product(name: "Logging", package: "swift-log")]),
    ]
)

// libFuzzer targets (`make fuzz`, Fuzz/README.md): only with RAGCHAT_FUZZ set, since each defines
// LLVMFuzzerTestOneInput and has no `main` unless built with `-sanitize=fuzzer`.
if ProcessInfo.processInfo.environment["RAGCHAT_FUZZ"] != nil {
    package.targets += [
        .target(name: "FuzzSupport", path: "Fuzz/Support"),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzSupport", "Tensors", "Tokenizers", "Decoder"], path: "Fuzz/GGUF"),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport", "Tensors"], path: "Fuzz/Safetensors"),
        .executableTarget(name: "FuzzE5File", dependencies: ["FuzzSupport", "Tensors", "Tokenizers", "Encoder"], path: "Fuzz/E5File"),
        .executableTarget(name: "FuzzTokenizers", dependencies: ["FuzzSupport", "Tokenizers"], path: "Fuzz/Tokenizers"),
        .executableTarget(name: "FuzzDocuments", dependencies: ["FuzzSupport", "Documents"], path: "Fuzz/Documents"),
        .executableTarget(name: "FuzzRequests", dependencies: [
            "FuzzSupport", "Server", "RAG", .product(name: "Hummingbird", package: "hummingbird"),
        ], path: "Fuzz/Requests"),
    ]
}
