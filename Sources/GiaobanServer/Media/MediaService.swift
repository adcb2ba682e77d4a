public import ServiceLifecycle

/// The media thread as a service of the server's `ServiceGroup`: it runs from start, and on
/// graceful shutdown (SIGTERM, SIGINT) it stops after the HTTP server has answered its
/// requests in flight (services stop in the reverse order of their start), so the UDP port is
/// free for the next process.
public struct MediaService: Service, CustomStringConvertible {
    let media: MediaServer

    /// A service for `media`, whose thread is already running.
    public init(media: MediaServer) { self.media = media }

    public var description: String { "MediaService(udp \(media.port))" }

    /// Waits for graceful shutdown (or cancellation), tells every peer (RTCP BYE, DTLS
    /// close_notify), then stops the media thread.
    public func run() async throws {
        try? await gracefulShutdown()
        _ = await media.send(.removeAllPeers(reason: "the server is shutting down"))
        await media.shutdown()
    }
}
