public import Hummingbird
public import HummingbirdWebSocket
public import NIOCore

/// The request context of the control plane: Hummingbird's WebSocket context plus the TCP
/// peer's address, which the audit trail records (`RequestOrigin`).
public struct GiaobanRequestContext: RequestContext, WebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        remoteAddress = source.channel.remoteAddress
    }
}

/// Where the request being served comes from, for the audit trail's `remote` column: set for
/// each request by `RequestOriginMiddleware` and for each WebSocket by its handler.
enum RequestOrigin {
    /// The client's IP address, or nil outside a request (the command line, a timer).
    @TaskLocal static var remote: String?

    /// The IP address of `address` (no port), or nil.
    static func text(_ address: SocketAddress?) -> String? { address?.ipAddress }
}

/// Runs every request with `RequestOrigin.remote` set to its TCP peer's address.
struct RequestOriginMiddleware: RouterMiddleware {
    typealias Context = GiaobanRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try await RequestOrigin.$remote.withValue(RequestOrigin.text(context.remoteAddress)) { try await next(request, context) }
    }
}
