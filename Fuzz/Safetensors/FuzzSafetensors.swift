// libFuzzer target: the safetensors reader (header JSON, offsets, conversions to Float).
// Any trap is a crash; a thrown error must name the file. Built by `make fuzz`.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import FuzzSupport
import Tensors

private let input = FuzzInputFile(fileExtension: "safetensors")
private var path: String { input.path }
private func check(_ error: any Error) { input.check(error) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    input.store(data, size)
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
