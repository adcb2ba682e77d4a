#if canImport(Glibc)
import Glibc
#endif
public import GiaobanCrypto

/// A minimal HTTP/1.1 client (RFC 9112) for the relay's control plane: `http://` or
/// `https://` (TLS 1.2+, RFC 9110 §4.2.2) to an IPv4 address or a DNS name (resolved to IPv4),
/// one request per TCP connection (`Connection: close`), bodies with a Content-Length, every
/// wait bounded by `timeout` (name resolution excepted: the system resolver bounds it).
/// Blocking: call it off any event loop.
public struct HTTPClient: Sendable {
    /// The server's host as written in the URL: an IPv4 address or a DNS name.
    public let host: String
    /// The server's TCP port.
    public let port: UInt16
    /// The largest response read (the relay's answers are SDP and small JSON; 16 MiB leaves room).
    public static let maxResponseBytes = 16 << 20
    /// The longest a whole exchange may take.
    public var timeout: Duration = .seconds(10)
    /// The trust settings for `https://`; nil for `http://`.
    public let tls: TLSClientContext?

    /// A client for `http://host:port` or `https://host:port` (a path after the authority is
    /// ignored; `localhost` connects to 127.0.0.1). For https, the server's certificate must
    /// chain to a CA in `caFile` (PEM), or to the system's CAs without one, and name `host`.
    public init(baseURL: String, caFile: String? = nil) throws(ClientError) {
        let secure = baseURL.hasPrefix("https://")
        guard secure || baseURL.hasPrefix("http://") else {
            throw ClientError(.http, "only http:// and https:// URLs are supported: \(baseURL)")
        }
        let authority = baseURL.drop { $0 != ":" }.dropFirst(3).prefix { $0 != "/" && $0 != "?" }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        host = (parts.first.map(String.init) ?? "").lowercased()
        guard parts.count <= 2, Self.isHostName(host) else { throw ClientError(.http, "'\(host)' is neither an IPv4 address nor a host name") }
        if parts.count == 2 {
            guard let p = UInt16(parts[1]), p > 0 else { throw ClientError(.http, "bad port in \(baseURL)") }
            port = p
        } else {
            port = secure ? 443 : 80
        }
        if secure {
            do { tls = try TLSClientContext(caFile: caFile) } catch { throw ClientError(.tls, error.message) }
        } else {
            tls = nil
        }
    }

    /// Sends `method path` with `headers` and `body`, and reads the whole response.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [],
                        body: [UInt8] = []) throws(ClientError) -> HTTPResponse {
        let deadline = ContinuousClock.now + timeout
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        let session = try tls.map { context throws(ClientError) in try handshake(context, socket: fd, deadline: deadline) }
        defer { session?.shutdown() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, session, Array(head.utf8) + body, deadline: deadline)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = try receive(fd, session, into: &chunk, deadline: deadline)
            received += chunk[0..<n]
            guard received.count <= Self.maxResponseBytes else {
                throw ClientError(.http, "the response from \(host):\(port) exceeds \(Self.maxResponseBytes) bytes")
            }
            if let response = try HTTPResponse.parse(received, atEOF: n == 0) { return response }
        }
    }
}
