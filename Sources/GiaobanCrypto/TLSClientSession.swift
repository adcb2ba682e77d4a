internal import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// One TLS client connection over a connected, non-blocking TCP socket the caller owns and
/// closes: the handshake verifies the server's chain and its name (SNI sent, RFC 6066 §3) or
/// IPv4 address (RFC 6125 §6.2, no SNI for an address), then bytes go both ways. Every call
/// waits with `poll` until `deadline` at most. Blocking: call it off any event loop.
public final class TLSClientSession {
    let ssl: OpaquePointer
    /// The socket the session reads and writes.
    public let socket: Int32
    /// The DNS name or IPv4 address the certificate must be issued for.
    public let serverName: String

    /// Sets up a session on `socket` for `serverName` (nothing is sent before `handshake`).
    public init(context: TLSClientContext, socket: Int32, serverName: String) throws(DTLSError) {
        guard let ssl = SSL_new(context.context) else { throw DTLSError(.openssl, "SSL_new failed") }
        do {
            try Self.configure(ssl, socket: socket, serverName: serverName)
        } catch {
            SSL_free(ssl)
            throw error
        }
        self.ssl = ssl
        self.socket = socket
        self.serverName = serverName
    }

    deinit {
        SSL_free(ssl)
    }

    private static func configure(_ ssl: OpaquePointer, socket: Int32, serverName: String) throws(DTLSError) {
        guard SSL_set_fd(ssl, socket) == 1 else { throw DTLSError(.openssl, "SSL_set_fd failed") }
        let param = SSL_get0_param(ssl)
        var address = in_addr()
        if inet_pton(AF_INET, serverName, &address) == 1 {
            guard X509_VERIFY_PARAM_set1_ip_asc(param, serverName) == 1 else {
                throw DTLSError(.openssl, "cannot check the certificate for \(serverName)")
            }
            return
        }
        // "*.example.org" matches one whole label only (RFC 6125 §6.4.3): no "w*.example.org".
        X509_VERIFY_PARAM_set_hostflags(param, 0x4 /* X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS */)
        guard X509_VERIFY_PARAM_set1_host(param, serverName, 0) == 1 else {
            throw DTLSError(.openssl, "cannot check the certificate for '\(serverName)'")
        }
        let sni = serverName.withCString {
            SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0))
        }
        guard sni == 1 else { throw DTLSError(.openssl, "'\(serverName)' cannot be sent as the server name") }
    }

    /// Runs the handshake. Throws `.certificateRejected` ("certificate verify failed: …" with
    /// OpenSSL's reason), `.handshakeFailed` with the alert or error, or `.timedOut`.
    public func handshake(deadline: ContinuousClock.Instant) throws(DTLSError) {
        while true {
            ERR_clear_error()
            let r = SSL_connect(ssl)
            if r == 1 { return }
            let error = SSL_get_error(ssl, r)
            if try wait(after: error, deadline: deadline, during: "the TLS handshake") { continue }
            let verdict = SSL_get_verify_result(ssl)
            if verdict != X509_V_OK {
                ERR_clear_error()
                let reason = X509_verify_cert_error_string(verdict).map { String(cString: $0) } ?? "error \(verdict)"
                throw DTLSError(.certificateRejected, "certificate verify failed: \(reason)")
            }
            throw DTLSError(.handshakeFailed, Self.failure(error, result: r))
        }
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant) throws(DTLSError) {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let r = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(clamping: $0.count - offset)) }
            if r > 0 {
                offset += Int(r)
                continue
            }
            let error = SSL_get_error(ssl, r)
            if try wait(after: error, deadline: deadline, during: "sending") { continue }
            throw DTLSError(.connectionFailed, Self.failure(error, result: r))
        }
    }

    /// Reads what has arrived into `buffer` (waiting for at least one byte); returns the
    /// count, 0 when the server closed the connection (with or without close_notify: a
    /// request framed by Content-Length notices a cut body itself).
    public func read(into buffer: inout [UInt8], deadline: ContinuousClock.Instant) throws(DTLSError) -> Int {
        while true {
            ERR_clear_error()
            let r = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32(clamping: $0.count)) }
            if r > 0 { return Int(r) }
            let error = SSL_get_error(ssl, r)
            if try wait(after: error, deadline: deadline, during: "receiving") { continue }
            switch error {
            case SSL_ERROR_ZERO_RETURN:
                return 0
            case SSL_ERROR_SYSCALL where ERR_peek_error() == 0 && (r == 0 || errno == 0):
                return 0
            case SSL_ERROR_SSL where Int32(ERR_peek_error() & 0x7F_FFFF) == SSL_R_UNEXPECTED_EOF_WHILE_READING:
                ERR_clear_error()
                return 0
            default:
                throw DTLSError(.connectionFailed, Self.failure(error, result: r))
            }
        }
    }

    /// Sends close_notify if the socket takes it now (RFC 8446 §6.1); never waits.
    public func shutdown() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }

    /// Waits for the socket when `error` asks to (true: try again); false for other errors.
    private func wait(after error: Int32, deadline: ContinuousClock.Instant, during what: String) throws(DTLSError) -> Bool {
        let events: Int32
        switch error {
        case SSL_ERROR_WANT_READ: events = POLLIN
        case SSL_ERROR_WANT_WRITE: events = POLLOUT
        default: return false
        }
        while true {
            let left = deadline - .now
            guard left > .zero else { throw DTLSError(.timedOut, "the deadline passed during \(what)") }
            var p = pollfd(fd: socket, events: Int16(events), revents: 0)
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1)
            let r = poll(&p, 1, ms)
            if r > 0 { return true }
            if r < 0 && errno != EINTR { throw DTLSError(.connectionFailed, "poll failed: \(String(cString: strerror(errno)))") }
        }
    }

    /// OpenSSL's reasons for a failed call, or the socket's error, as one phrase; empties
    /// the error queue.
    static func failure(_ error: Int32, result: Int32) -> String {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let text = ERR_reason_error_string(code) {
                reasons.append(String(cString: text))
            } else {
                var buf = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buf, buf.count)
                reasons.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        if !reasons.isEmpty { return reasons.joined(separator: "; ") }
        if error == SSL_ERROR_SYSCALL {
            let code = errno
            return result == 0 || code == 0 ? "the server closed the connection" : String(cString: strerror(code))
        }
        return "OpenSSL error \(error)"
    }
}
