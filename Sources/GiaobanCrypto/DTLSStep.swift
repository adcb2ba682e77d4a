/// What a `DTLSTransport` reports after processing an input.
public enum DTLSEvent: Sendable {
    /// The handshake finished and the peer is who the SDP said: SRTP can start
    /// (RFC 5764 §4.2).
    case connected(SRTPKeyingMaterial)
    /// The handshake or the connection failed; `reason` tells why (e.g. `.fingerprintMismatch`).
    case failed(DTLSError)
    /// The peer sent close_notify; the transport answered with its own (RFC 5246 §7.2.1).
    case closed
    /// One decrypted application data record (RFC 6347 §4.1), e.g. an SCTP packet.
    case applicationData([UInt8])
}

/// The result of feeding a `DTLSTransport` one input: datagrams to send, in order, and
/// what happened. Records of one datagram can produce several events (RFC 6347 §4.1.1).
public struct DTLSStep: Sendable {
    /// Datagrams to send to the peer, each at most the context's MTU (handshake records;
    /// application data larger than the MTU is sent as one bigger datagram).
    public var outgoing: [[UInt8]]
    /// What happened, in order; empty for most inputs.
    public var events: [DTLSEvent]

    /// Creates a step.
    public init(outgoing: [[UInt8]] = [], events: [DTLSEvent] = []) {
        self.outgoing = outgoing
        self.events = events
    }
}
