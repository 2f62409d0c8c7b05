import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing to the standard streams, unbuffered, from any thread.
enum Terminal {
    static func isTTY(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func err(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Terminal width from `COLUMNS` or the tty, 80 otherwise.
    static func width(_ fd: Int32) -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns > 0 { return columns }
        return 80
    }
}

/// A one-line progress bar on a terminal (stderr), redrawn in place, at most every 50 ms.
final class ProgressBar: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var visible = false
    }

    private let state = Mutex(State())
    private let fd: Int32

    init(fd: Int32 = STDERR_FILENO) {
        self.fd = fd
    }

    /// `fraction` in 0…1, `label` after the bar (truncated to the terminal width).
    func update(fraction: Double, label: String, force: Bool = false) {
        state.withLock { state in
            let now = ContinuousClock.now
            if !force, let last = state.lastDraw, now - last < .milliseconds(50) { return }
            state.lastDraw = now
            state.visible = true
            let width = 24
            let filled = max(0, min(width, Int((fraction * Double(width)).rounded(.down))))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            var line = "\(bar) \(String(format: "%3d", Int(fraction * 100)))% \(label)"
            let columns = Terminal.width(fd)
            if line.count > columns - 1 { line = String(line.prefix(max(10, columns - 2))) + "…" }
            Terminal.err("\r\u{1B}[K" + line)
        }
    }

    /// Erases the bar so a normal line can be printed.
    func clear() {
        state.withLock { state in
            if state.visible { Terminal.err("\r\u{1B}[K") }
            state.visible = false
            state.lastDraw = nil
        }
    }
}
