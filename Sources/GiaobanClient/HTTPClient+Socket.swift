#if canImport(Glibc)
import Glibc
#endif
import GiaobanCrypto

/// The connection under `HTTPClient`: name resolution, the TCP connect, TLS, and bounded
/// reads and writes on a non-blocking socket.
extension HTTPClient {
    /// True for an IPv4 address, `localhost`, or a DNS name of letters, digits, '-' and '.'.
    static func isHostName(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        if RelayAnswer.address(host, port: 0) != nil { return true }
        return host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// The IPv4 address to connect to: the host itself, 127.0.0.1 for `localhost`, or the
    /// first IPv4 address the resolver gives for the name.
    func resolve() throws(ClientError) -> in_addr {
        var address = in_addr()
        if inet_pton(AF_INET, host, &address) == 1 { return address }
        if host == "localhost" {
            _ = inet_pton(AF_INET, "127.0.0.1", &address)
            return address
        }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let r = getaddrinfo(host, nil, &hints, &list)
        guard r == 0, let list else {
            throw ClientError(.http, "cannot resolve \(host): \(String(cString: gai_strerror(r)))")
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let e = entry {
            if e.pointee.ai_family == AF_INET, let sa = e.pointee.ai_addr {
                return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            }
            entry = e.pointee.ai_next
        }
        throw ClientError(.http, "\(host) has no IPv4 address")
    }

    func connect(deadline: ContinuousClock.Instant) throws(ClientError) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr = try resolve()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError(.http, "socket failed: \(String(cString: strerror(errno)))") }
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

    /// The TLS handshake on a connected socket; the certificate must name `host`.
    func handshake(_ context: TLSClientContext, socket fd: Int32, deadline: ContinuousClock.Instant) throws(ClientError)
        -> TLSClientSession {
        do {
            let session = try TLSClientSession(context: context, socket: fd, serverName: host)
            try session.handshake(deadline: deadline)
            return session
        } catch {
            throw clientError(error, during: "handshake")
        }
    }

    func sendAll(_ fd: Int32, _ session: TLSClientSession?, _ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(ClientError) {
        if let session {
            do { try session.write(bytes, deadline: deadline) } catch { throw clientError(error, during: "send") }
            return
        }
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

    /// Reads what has arrived (at least one byte); 0 at the end of the stream.
    func receive(_ fd: Int32, _ session: TLSClientSession?, into chunk: inout [UInt8],
                 deadline: ContinuousClock.Instant) throws(ClientError) -> Int {
        if let session {
            do { return try session.read(into: &chunk, deadline: deadline) } catch { throw clientError(error, during: "receive") }
        }
        while true {
            try wait(fd, for: Int16(POLLIN), deadline: deadline)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n >= 0 { return n }
            if errno == EAGAIN || errno == EINTR { continue }
            throw ClientError(.http, "receive failed: \(String(cString: strerror(errno)))")
        }
    }

    /// A TLS failure in the words an operator reads.
    private func clientError(_ error: DTLSError, during step: String) -> ClientError {
        switch error.reason {
        case .timedOut:
            return ClientError(.http, "no response from \(host):\(port) within \(timeout)")
        case .certificateRejected:
            return ClientError(.tls, "\(error.message) (\(host):\(port))")
        case .handshakeFailed, .openssl:
            return ClientError(.tls, "TLS handshake with \(host):\(port) failed: \(error.message)")
        default:
            return ClientError(.http, "TLS \(step) failed: \(error.message)")
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
