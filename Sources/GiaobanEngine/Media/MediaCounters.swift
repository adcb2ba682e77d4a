/// Why the media loop dropped a datagram; stable names used as the `reason` label of
/// `giaoban_udp_dropped_total`. Counted, never logged per packet.
public enum DropReason: Int, Sendable, CaseIterable {
    case unknownFirstByte, truncated
    case stunMalformed, stunNotRequest, stunUnknownUser, stunBadIntegrity, stunBadFingerprint, stunBadUsername, stunBadRequest
    case dtlsNoPeer, dtlsBadRecord
    case rtpNoPeer, rtpNotReady, srtpAuthFailed, srtpReplayed, srtpOld, srtpMalformed, srtpOther
    case rtpMalformed, rtcpMalformed, rtpUnknownSSRC, noRoom
    case stunReplayed

    /// The metric label.
    public var label: String {
        switch self {
        case .unknownFirstByte: "unknown_first_byte"
        case .truncated: "truncated"
        case .stunMalformed: "stun_malformed"
        case .stunNotRequest: "stun_not_request"
        case .stunUnknownUser: "stun_unknown_user"
        case .stunBadIntegrity: "stun_bad_integrity"
        case .stunBadFingerprint: "stun_bad_fingerprint"
        case .stunBadUsername: "stun_bad_username"
        case .stunBadRequest: "stun_bad_request"
        case .dtlsNoPeer: "dtls_no_peer"
        case .dtlsBadRecord: "dtls_bad_record"
        case .rtpNoPeer: "rtp_no_peer"
        case .rtpNotReady: "rtp_before_dtls"
        case .srtpAuthFailed: "srtp_auth_failed"
        case .srtpReplayed: "srtp_replayed"
        case .srtpOld: "srtp_too_old"
        case .srtpMalformed: "srtp_malformed"
        case .srtpOther: "srtp_failed"
        case .rtpMalformed: "rtp_malformed"
        case .rtcpMalformed: "rtcp_malformed"
        case .rtpUnknownSSRC: "rtp_unknown_ssrc"
        case .noRoom: "no_room"
        case .stunReplayed: "stun_replayed"
        }
    }
}

/// The media loop's counters: plain integers owned by the loop's thread, copied out as a
/// value snapshot for /metrics.
public struct MediaCounters: Sendable {
    /// Datagrams received.
    public var received = 0
    /// RTP packets received from publishers (after SRTP).
    public var rtpReceived = 0
    /// RTP packets sent to subscribers.
    public var rtpForwarded = 0
    /// RTP packets the relay produced itself (mixes) and sent to subscribers.
    public var rtpMixed = 0
    /// RTP packets resent to answer NACKs.
    public var rtpRetransmitted = 0
    /// NACKed packets no longer in the cache.
    public var nackMisses = 0
    /// NACKed packets not sent again, by reason, indexed by `NACKRefusal.rawValue`.
    public var nackRefused = [Int](repeating: 0, count: NACKRefusal.allCases.count)
    /// RTCP packets received.
    public var rtcpReceived = 0
    /// RTCP packets the relay sent (reports and feedback).
    public var rtcpSent = 0
    /// PLI sent to publishers.
    public var keyframeRequests = 0
    /// Sequence numbers asked for again from publishers (Generic NACK upstream; each retry counts).
    public var upstreamNACKs = 0
    /// Packets publishers sent again when asked: loss on the way in, recovered.
    public var upstreamRecovered = 0
    /// Packets lost on the way in and given up after every retry (a keyframe is asked for instead).
    public var upstreamGivenUp = 0
    /// Simulcast layer switches made for subscribers (each on a keyframe).
    public var layerSwitches = 0
    /// Times a subscriber's video was paused because even the lowest layer did not fit its estimate.
    public var videoPauses = 0
    /// REMB messages received from subscribers (their bandwidth estimates).
    public var rembReceived = 0
    /// Transport-wide feedback messages received from subscribers.
    public var transportFeedbackReceived = 0
    /// STUN binding requests answered.
    public var stunAnswered = 0
    /// DTLS handshakes completed.
    public var dtlsConnected = 0
    /// DTLS handshakes that failed.
    public var dtlsFailed = 0
    /// ICE restarts (new credentials, the same DTLS session).
    public var iceRestarts = 0
    /// Peers removed because consent expired (RFC 7675).
    public var consentExpired = 0
    /// Drops by reason, indexed by `DropReason.rawValue`.
    public var dropped = [Int](repeating: 0, count: DropReason.allCases.count)

    /// Creates zeroed counters.
    public init() {}

    /// Counts one drop.
    @inline(__always)
    public mutating func drop(_ reason: DropReason) { dropped[reason.rawValue] &+= 1 }

    /// Drops for `reason`.
    public func dropped(_ reason: DropReason) -> Int { dropped[reason.rawValue] }

    /// Counts one NACKed packet not sent again.
    @inline(__always)
    public mutating func refuseNACK(_ reason: NACKRefusal) { nackRefused[reason.rawValue] &+= 1 }

    /// NACKed packets not sent again for `reason`.
    public func nackRefused(_ reason: NACKRefusal) -> Int { nackRefused[reason.rawValue] }
}
