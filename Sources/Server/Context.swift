import Hummingbird

/// The request context of the RAGChat server.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
    /// Bodies are read with an explicit 64 KB limit by the chat controller; this is the hard cap.
    public var maxUploadSize: Int { 1 << 20 }
}
