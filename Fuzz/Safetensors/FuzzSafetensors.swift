// libFuzzer target: the safetensors reader (header JSON, offsets, conversions to Float).
// Any trap is a crash; a thrown error must name the file. Built by `make fuzz`.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Tensors

private let path = "/tmp/ragchat-fuzz-\(getpid()).safetensors"

private func store(_ data: UnsafePointer<UInt8>, _ size: Int) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0, "cannot write \(path)")
    var done = 0
    while done < size {
        let n = write(fd, data + done, size - done)
        precondition(n > 0, "cannot write \(path)")
        done += n
    }
    close(fd)
}

private func check(_ error: any Error) {
    let text = "\(error)"
    if !text.contains(path) { fatalError("error without the file name: \(text)") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    store(data, size)
    let file: SafetensorsFile
    do { file = try SafetensorsFile(url: URL(fileURLWithPath: path)) } catch { check(error); return 0 }
    _ = file.metadata
    for name in file.names {
        do {
            let info = try file.info(name)
            let raw = try file.bytes(name)
            precondition(raw.count == info.dataOffsets.count)
            if info.count <= 1 << 16 {
                _ = try file.floats(name)
                _ = try file.floats(name, shape: info.shape)
            }
        } catch { check(error) }
    }
    return 0
}
