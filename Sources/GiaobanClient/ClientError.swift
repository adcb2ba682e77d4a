/// The one error type of the client library; `reason` says which step failed and
/// `message` gives the detail an operator reads.
public struct ClientError: Error, Sendable, CustomStringConvertible {
    /// Which step of joining the relay failed.
    public enum Reason: String, Sendable, CaseIterable {
        /// A socket could not be opened, bound or connected.
        case socket
        /// The HTTP exchange failed: no connection, a timeout, or a malformed response.
        case http
        /// The TLS connection to the control plane failed: the certificate was not trusted
        /// or not issued for the host, or the handshake broke off.
        case tls
        /// The relay answered a WHIP/WHEP request with a status other than the expected one.
        case rejected
        /// The SDP answer lacks what the client needs (ICE credentials, fingerprint, candidate).
        case badAnswer
        /// No ICE connectivity check succeeded in time (RFC 8445 §7.2.5.2).
        case iceFailed
        /// The DTLS handshake failed or timed out (RFC 6347), or its keys were unusable.
        case dtlsFailed
        /// No consent response for 30 s after connecting (RFC 7675 §5.1).
        case consentLost
        /// The relay closed the DTLS association (close_notify).
        case closed
        /// SRTP or SRTCP protection was asked for before the keys existed.
        case notConnected
        /// A media file could not be read, written or understood.
        case file
        /// An encoder or decoder could not be set up.
        case codec
    }

    /// Which step failed.
    public let reason: Reason
    /// One line of detail.
    public let message: String

    /// Creates an error.
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { "\(reason.rawValue): \(message)" }
}
