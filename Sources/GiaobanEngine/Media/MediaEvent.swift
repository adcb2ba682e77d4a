public import GiaobanWire

/// What happened in the media plane, for the control plane (logs, session bookkeeping, a
/// room's speaker): the router's events, drained by the socket loop after each batch
/// (`MediaRouter.drainEvents`).
public enum MediaEvent: Sendable, Equatable {
    /// ICE nominated an address.
    case nominated(peer: String, address: STUNAddress)
    /// DTLS completed; media can flow.
    case connected(peer: String)
    /// The peer is gone: `reason` says why (consent expired, DTLS failed, closed, removed).
    case removed(peer: String, reason: String)
    /// Stream group `group`'s active speaker is now `stream` (one of its members).
    case speakerChanged(group: String, stream: String)
}
