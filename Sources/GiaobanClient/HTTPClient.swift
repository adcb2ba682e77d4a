#if canImport(Glibc)
import Glibc
#endif

/// A minimal HTTP/1.1 client (RFC 9112) for the relay's control plane: plain `http://` to an
/// IPv4 address, one request per TCP connection (`Connection: close`), bodies with a
/// Content-Length, every wait bounded by `timeout`. Blocking: call it off any event loop.
public struct HTTPClient: Sendable {
    /// The server's IPv4 address.
    public let host: String
    /// The server's TCP port.
    public let port: UInt16
    /// The longest a whole exchange may take.
    public var timeout: Duration = .seconds(10)

    /// A client for `http://host:port` (a path after the authority is ignored; `localhost`
    /// means 127.0.0.1).
    public init(baseURL: String) throws(ClientError) {
        guard baseURL.hasPrefix("http://") else { throw ClientError(.http, "only http:// URLs are supported: \(baseURL)") }
        let authority = baseURL.dropFirst("http://".count).prefix { $0 != "/" }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        let name = parts.first.map(String.init) ?? ""
        host = name == "localhost" ? "127.0.0.1" : name
        guard RelayAnswer.address(host, port: 0) != nil else { throw ClientError(.http, "'\(name)' is not an IPv4 address") }
        if parts.count == 2 {
            guard let p = UInt16(parts[1]) else { throw ClientError(.http, "bad port in \(baseURL)") }
            port = p
        } else {
            port = 80
        }
    }

    /// Sends `method path` with `headers` and `body`, and reads the whole response.
    public func request(_ method: String, _ path: String, headers: [(String, String)] = [],
                        body: [UInt8] = []) throws(ClientError) -> HTTPResponse {
        let deadline = ContinuousClock.now + timeout
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" || method == "PUT" || method == "PATCH" { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + body, deadline: deadline)
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            try wait(fd, for: Int16(POLLIN), deadline: deadline)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw ClientError(.http, "receive failed: \(String(cString: strerror(errno)))")
            }
            received += chunk[0..<n]
            if let response = try HTTPResponse.parse(received, atEOF: n == 0) { return response }
        }
    }

    private func connect(deadline: ContinuousClock.Instant) throws(ClientError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(.http, "socket failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, host, &address.sin_addr)
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        do throws(ClientError) {
            if r != 0 {
                guard errno == EINPROGRESS else { throw ClientError(.http, "connect to \(host):\(port): \(String(cString: strerror(errno)))") }
                try wait(fd, for: Int16(POLLOUT), deadline: deadline)
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                guard error == 0 else { throw ClientError(.http, "connect to \(host):\(port): \(String(cString: strerror(error)))") }
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            try wait(fd, for: Int16(POLLOUT), deadline: deadline)
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw ClientError(.http, "send failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Waits until `fd` is ready for `events`, or throws at the deadline.
    private func wait(_ fd: Int32, for events: Int16, deadline: ContinuousClock.Instant) throws(ClientError) {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw ClientError(.http, "no response from \(host):\(port) within \(timeout)") }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let r = poll(&p, 1, ms)
            if r > 0 { return }
            if r < 0 && errno != EINTR { throw ClientError(.http, "poll failed: \(String(cString: strerror(errno)))") }
        }
    }
}
