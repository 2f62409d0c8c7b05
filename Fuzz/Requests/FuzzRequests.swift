// libFuzzer target: the body of POST /chat and /chat/stream as the server reads it: StrictJSON
// (trailing commas, duplicate keys), then JSON -> ChatRequest, then the request limits. Any trap
// is a crash. Built by `make fuzz`.
import Foundation
import RAG
import Server

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Data(bytes: data, count: size)
    try? StrictJSON.check(body)
    // A slice whose indices do not start at 0, as a body cut from a larger buffer would be.
    var padded = Data([0x20, 0x20])
    padded.append(body)
    try? StrictJSON.check(padded[2...])
    if let request = try? ChatController<AppRequestContext>.decode(body) {
        _ = try? request.validated(RequestLimits())
        _ = try? request.validated(RequestLimits(maxQuestionLength: 10, maxTopK: 1, maxHistoryMessages: 1))
    }
    return 0
}
