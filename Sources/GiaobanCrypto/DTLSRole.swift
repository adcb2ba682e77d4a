/// Which side of the DTLS handshake a transport plays (RFC 5763 §5): the endpoint whose
/// SDP says `a=setup:active` is the client, `a=setup:passive` the server.
public enum DTLSRole: Sendable, Hashable {
    /// Waits for the peer's ClientHello (`a=setup:passive`).
    case server
    /// Sends the ClientHello (`a=setup:active`).
    case client
}
