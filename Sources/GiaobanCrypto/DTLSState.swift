/// Where a `DTLSTransport` is in its life.
public enum DTLSState: Sendable, Hashable {
    /// Created; `start(now:)` not called yet (a server also starts on its first datagram).
    case new
    /// Flights are being exchanged (RFC 6347 §4.2.4).
    case handshaking
    /// The handshake finished, the peer's fingerprint matched and SRTP keys were exported.
    case connected
    /// The handshake or the connection failed; the transport ignores further input.
    case failed
    /// A close_notify was sent or received (RFC 5246 §7.2.1); further input is ignored.
    case closed
}
