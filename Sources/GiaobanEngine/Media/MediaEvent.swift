public import GiaobanWire

/// What happened to a peer, for the control plane (logs, session bookkeeping): the media
/// plane's events, drained by the socket loop after each batch (`MediaRouter.drainEvents`).
public enum MediaEvent: Sendable, Equatable {
    /// ICE nominated an address.
    case nominated(peer: String, address: STUNAddress)
    /// DTLS completed; media can flow.
    case connected(peer: String)
    /// The peer is gone: `reason` says why (consent expired, DTLS failed, closed, removed).
    case removed(peer: String, reason: String)
}
