import Glibc

/// A blocking POSIX socket of an RTSP camera session, every wait bounded by `poll`: the
/// RTSP/TCP connection, or one of the two UDP sockets of RTP over UDP. Closed in `deinit`.
final class CameraSocket {
    /// The file descriptor.
    let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { close(fd) }

    /// Connects to `host`:`port` over TCP within `timeout`, trying each resolved address in turn.
    static func connect(host: String, port: UInt16, timeout: Duration) throws(CameraError) -> CameraSocket {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else { throw CameraError("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        let deadline = ContinuousClock.now + timeout
        while let ai = entry {
            entry = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errnoText(); continue }
            let s = CameraSocket(fd: fd)
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            if Glibc.connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 {
                guard errno == EINPROGRESS else { lastError = errnoText(); continue }
                guard s.wait(for: Int16(POLLOUT), until: deadline) else { lastError = "connect timed out"; continue }
                var err: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
                guard err == 0 else { lastError = String(cString: strerror(err)); continue }
            }
            _ = fcntl(fd, F_SETFL, flags)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return s
        }
        throw CameraError("cannot connect to \(host):\(port): \(lastError)")
    }

    /// Two UDP sockets on consecutive ports, the first even (RTP and RTCP, RFC 3550 §11),
    /// bound to the wildcard address of `family`.
    static func udpPair(family: Int32) throws(CameraError) -> (rtp: CameraSocket, rtcp: CameraSocket, port: UInt16) {
        for _ in 0..<32 {
            let rtp = try udp(family: family, port: 0)
            let port = localPort(rtp.fd)
            guard port % 2 == 0, port < 65535 else { continue }
            if let rtcp = try? udp(family: family, port: port + 1) { return (rtp, rtcp, port) }
        }
        throw CameraError("no free pair of UDP ports")
    }

    /// The address family of the connected peer (AF_INET or AF_INET6).
    var family: Int32 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &len) }
        }
        return Int32(storage.ss_family)
    }

    /// Sends all of `bytes` within `timeout`.
    func send(_ bytes: [UInt8], timeout: Duration) throws(CameraError) {
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < bytes.count {
            guard wait(for: Int16(POLLOUT), until: deadline) else { throw CameraError("send timed out") }
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw CameraError("send failed: \(errnoText())")
            }
            sent += n
        }
    }

    /// Reads what is available into `buffer`: the count, 0 at end of stream, -1 when nothing
    /// is waiting; throws on an error.
    func receive(into buffer: inout [UInt8]) throws(CameraError) -> Int {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            if errno == EAGAIN { return -1 }
            throw CameraError("receive failed: \(errnoText())")
        }
    }

    /// True when `events` happen on the socket before `deadline`.
    func wait(for events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        var p = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let ms = CameraSocket.milliseconds(until: deadline)
            let rc = poll(&p, 1, ms)
            if rc < 0 && errno == EINTR { continue }
            return rc > 0
        }
    }

    /// Waits up to `deadline` for input on any of `sockets`; the indices of those readable.
    static func readable(_ sockets: [CameraSocket], until deadline: ContinuousClock.Instant) -> [Int] {
        var fds = sockets.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        let rc = poll(&fds, nfds_t(fds.count), milliseconds(until: deadline))
        guard rc > 0 else { return [] }
        return fds.indices.filter { fds[$0].revents != 0 }
    }

    /// Milliseconds from now to `deadline`, at least 0.
    static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: deadline)
        guard left > .zero else { return 0 }
        let (s, atto) = left.components
        return Int32(min(s * 1000 + atto / 1_000_000_000_000_000 + 1, 60_000))
    }

    private static func udp(family: Int32, port: UInt16) throws(CameraError) -> CameraSocket {
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw CameraError("UDP socket: \(errnoText())") }
        let s = CameraSocket(fd: fd)
        var size: Int32 = 1 << 20
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length: Int
        if family == AF_INET6 {
            length = MemoryLayout<sockaddr_in6>.size
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    $0.pointee.sin6_family = sa_family_t(AF_INET6)
                    $0.pointee.sin6_port = port.bigEndian
                }
            }
        } else {
            length = MemoryLayout<sockaddr_in>.size
            withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    $0.pointee.sin_family = sa_family_t(AF_INET)
                    $0.pointee.sin_port = port.bigEndian
                }
            }
        }
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else { throw CameraError("UDP bind: \(errnoText())") }
        return s
    }

    private static func localPort(_ fd: Int32) -> UInt16 {
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }
}

/// The text of the current `errno`.
private func errnoText() -> String { String(cString: strerror(errno)) }

/// Why a camera session failed: a sentence for the log and the camera's `offline` state.
/// Never contains credentials.
public struct CameraError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason, e.g. "DESCRIBE answered 404 Not Found".
    public let description: String

    /// Creates an error with its reason.
    public init(_ description: String) { self.description = description }
}
