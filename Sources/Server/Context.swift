import Hummingbird
import HummingbirdAuth
import NIOCore

/// The request context of the RAGChat server: the client's address (rate limit) and, when it
/// presented the server key, its identity (hummingbird-auth).
public struct AppRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: KeyHolder?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Bodies are read with an explicit 64 KB limit by the chat controller; this is the hard cap.
    public var maxUploadSize: Int { 1 << 20 }
}
