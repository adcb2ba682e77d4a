internal import COpenSSL

/// The one error type of the DTLS/OpenSSL wrapper, carrying OpenSSL's error queue text.
public struct DTLSError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public enum Reason: String, Sendable {
        /// A key or certificate could not be generated.
        case keyGeneration
        /// A PEM file could not be read or does not hold what it should.
        case badPEM
        /// The certificate and private key do not belong together.
        case keyMismatch
        /// A fingerprint string is not `sha-256 XX:XX:…`.
        case badFingerprint
        /// An OpenSSL call failed.
        case openssl
        /// The peer's certificate does not match the SDP `a=fingerprint` (RFC 8122 §5, RFC 5763 §5).
        case fingerprintMismatch
        /// The DTLS handshake failed: a fatal alert, a malformed message, no shared cipher.
        case handshakeFailed
        /// The peer stopped answering: OpenSSL gave up after its retransmission limit
        /// (RFC 6347 §4.2.4).
        case handshakeTimeout
        /// The handshake finished without a use_srtp profile both sides support (RFC 5764 §4.1.2).
        case noSRTPProfile
        /// A fatal error after the handshake, e.g. a fatal alert from the peer.
        case connectionFailed
        /// Application data was offered before the handshake finished or after it ended.
        case notConnected
        /// Application data longer than one DTLS record carries (2^14 bytes, RFC 6347 §4.1).
        case messageTooLarge
        /// A TLS server's certificate failed verification: untrusted, expired, or issued for
        /// another host name or address (RFC 6125 §6).
        case certificateRejected
        /// A TLS connection's deadline passed while waiting for the socket.
        case timedOut
    }

    /// What failed.
    public let reason: Reason
    /// A short description plus OpenSSL's queued errors, if any.
    public let message: String

    init(_ reason: Reason, _ what: String) {
        self.reason = reason
        self.message = what + Self.drainQueue()
    }

    /// Empties OpenSSL's thread-local error queue into a string (" — err1; err2").
    static func drainQueue() -> String {
        var parts: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buf, buf.count)
            parts.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return parts.isEmpty ? "" : " — " + parts.joined(separator: "; ")
    }

    /// `reason: message`.
    public var description: String { "\(reason.rawValue): \(message)" }
}
