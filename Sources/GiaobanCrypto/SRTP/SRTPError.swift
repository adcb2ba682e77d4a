/// The one error type of the SRTP wrapper; `reason` is a metric label for dropped packets.
public struct SRTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why protecting or unprotecting failed.
    public enum Reason: String, Sendable, CaseIterable {
        /// The authentication tag did not verify (tampered, wrong key, or not SRTP).
        case authenticationFailed
        /// The packet was already received (RFC 3711 §3.3.2 replay list).
        case replayed
        /// The packet is older than the replay window.
        case tooOld
        /// The packet is too short or not a parsable RTP/RTCP packet.
        case malformed
        /// The caller's buffer has no room for the authentication tag.
        case noRoom
        /// The keying material has the wrong length for the profile.
        case badKey
        /// libsrtp2 reported another failure.
        case failed
    }

    /// Why it failed.
    public let reason: Reason
    /// libsrtp2's status code.
    public let status: Int32

    /// Creates an error from a reason and libsrtp2's status code.
    public init(_ reason: Reason, status: Int32 = 0) {
        self.reason = reason
        self.status = status
    }

    public var description: String { "SRTP \(reason.rawValue) (status \(status))" }
}
