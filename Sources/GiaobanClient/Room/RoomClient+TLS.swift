public import HummingbirdWSClient
public import NIOSSL

extension RoomClient {
    /// The socket's settings: for `wss://`, TLS 1.2+ trusting `caFile` and checking the host.
    ///
    /// An IPv4 address may not be sent as the TLS server name (RFC 6066 §3), yet the WebSocket
    /// client sends the URL's host unless told another; it is told a name under `.invalid`
    /// (RFC 6761 §6.4) that names no host, so only the certificate's
    /// IP address entries, checked against the connected address, can match.
    func connectionSettings() -> (WebSocketClientConfiguration, TLSConfiguration?) {
        Self.connectionSettings(url: url, caFile: caFile)
    }

    /// The settings of a socket to `url` (a `wss://` one trusting `caFile`, nil: the system's CAs).
    public static func connectionSettings(url: String, caFile: String?) -> (WebSocketClientConfiguration, TLSConfiguration?) {
        var configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 20)
        guard url.hasPrefix("wss://") else { return (configuration, nil) }
        let authority = url.dropFirst("wss://".count).prefix { $0 != "/" && $0 != "?" }
        let host = authority.prefix { $0 != ":" }
        if RelayAnswer.address(String(host), port: 0) != nil { configuration.sniHostname = "ipv4-address.invalid" }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        // After the WebSocket close, TLS waits for the server's close_notify; when none comes,
        // NIOSSL's default of 5 s would hold `finished()` (and a leaving endpoint) that long.
        tls.shutdownTimeout = .seconds(1)
        if let caFile { tls.trustRoots = .file(caFile) }
        return (configuration, tls)
    }
}
