// What every Fuzz/ target shares: libFuzzer's driver, the input written to a file for the
// readers that map files, and how a finding is reported.
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// Runs libFuzzer with `callback` as the target. SwiftPM links an executable with `main` aliased
/// to its module's entry point, which hides libFuzzer's own `main`, so each target's main.swift
/// starts the driver here.
public func runLibFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// A finding that is not a trap (an error that does not name its file, a harness set-up that
/// failed): printed, then the process aborts so that libFuzzer keeps the input as a crash.
public func reportFinding(_ message: String) -> Never {
    let line = Array("fuzz finding: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}

/// The fuzz input as a file, for the readers that open and map files; their errors must name it.
public struct FuzzInputFile: Sendable {
    public let path: String

    /// `/tmp/ragchat-fuzz-<pid>.<fileExtension>`.
    public init(fileExtension: String) {
        path = "/tmp/ragchat-fuzz-\(getpid()).\(fileExtension)"
    }

    /// Writes the input to `path`.
    public func store(_ data: UnsafePointer<UInt8>, _ size: Int) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd < 0 { reportFinding("cannot write \(path)") }
        defer { close(fd) }
        var done = 0
        while done < size {
            let n = write(fd, data + done, size - done)
            if n <= 0 { reportFinding("cannot write \(path)") }
            done += n
        }
    }

    /// Bad input must be refused with an error that names the file.
    public func check(_ error: any Error) {
        let text = "\(error)"
        if !text.contains(path) { reportFinding("error without the file name: \(text)") }
    }
}
