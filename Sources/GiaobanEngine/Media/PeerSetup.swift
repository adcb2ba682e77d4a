public import GiaobanCrypto
public import GiaobanICE

/// Everything the media loop needs to create one peer, decided by the control plane from
/// the SDP offer and answer (so the loop never parses SDP).
public struct PeerSetup: Sendable {
    /// Which way media flows for this peer.
    public enum Role: Sendable, Equatable {
        /// Sends media into the relay (WHIP, a meeting's publish connection).
        case publisher
        /// Receives media from the relay (WHEP, a meeting's subscribe connection).
        case subscriber
    }

    /// One negotiated media kind.
    public struct Track: Sendable, Equatable {
        /// Audio or video.
        public enum Kind: String, Sendable { case audio, video }
        /// Audio or video.
        public var kind: Kind
        /// The payload type the peer uses for it (from its offer).
        public var payloadType: UInt8
        /// The codec name as in rtpmap (opus, VP8, VP9).
        public var codec: String
        /// The RTP clock rate.
        public var clockRate: UInt32
        /// Subscriber: the SSRC the relay sends with (announced in the answer). Publisher: the
        /// SSRC announced in the offer, if any (0 = learn from the first packet).
        public var ssrc: UInt32
        /// H.264: the publisher's `profile-level-id` (what watchers must be able to decode).
        public var profileLevelID: String?

        /// A negotiated track.
        public init(kind: Kind, payloadType: UInt8, codec: String, clockRate: UInt32, ssrc: UInt32,
                    profileLevelID: String? = nil) {
            self.kind = kind
            self.payloadType = payloadType
            self.codec = codec
            self.clockRate = clockRate
            self.ssrc = ssrc
            self.profileLevelID = profileLevelID
        }
    }

    /// A stable identifier for logs and the session URL.
    public var id: String
    /// Publisher or subscriber.
    public var role: Role
    /// The stream name this peer publishes to or watches.
    public var stream: String
    /// Our ICE credentials (in the answer) and the peer's (from the offer).
    public var localICE: ICECredentials
    /// The peer's ICE credentials.
    public var remoteICE: ICECredentials
    /// The fingerprint the peer's DTLS certificate must have.
    public var remoteFingerprint: CertificateFingerprint
    /// True when the relay is the DTLS client (`a=setup:active` in the answer).
    public var dtlsClient: Bool
    /// Negotiated audio, if any.
    public var audio: Track?
    /// Negotiated video, if any.
    public var video: Track?
    /// The header extension id of the transport-wide sequence number
    /// (draft-holmer-rmcat-transport-wide-cc-extensions-01), when negotiated. Publisher: the
    /// relay sends transport-wide feedback so the sender can estimate its bandwidth.
    /// Subscriber: the relay numbers what it sends and estimates the link from the feedback.
    public var transportCCExtensionID: UInt8?
    /// Publisher: the header extension id of the client-to-mixer audio level (RFC 6464), when
    /// negotiated; the relay keeps each stream's latest level for active-speaker detection.
    public var audioLevelExtensionID: UInt8?
    /// Publisher: the rids of its simulcast encodings (RFC 8853 `a=simulcast:send`), empty
    /// without simulcast.
    public var simulcastRIDs: [String] = []
    /// Publisher: the header extension id of the RTP stream id (RFC 8852 §3.3), which names
    /// the simulcast encoding of a packet until the relay knows its SSRC.
    public var ridExtensionID: UInt8?
    /// Local publisher: the SSRC of each of its video layers, known in advance (a trunk pulls
    /// each layer of a parent's simulcast stream over its own connection and renumbers it);
    /// empty for one layer, or for layers learned from `simulcastRIDs`.
    public var layerSSRCs: [UInt32] = []
    /// Subscriber: the one video layer it takes, by rank (0 = lowest), whatever its link
    /// estimate; nothing while the publisher sends fewer layers (a trunk pulling that layer).
    public var layerRank: Int?

    /// A source inside the server (an RTSP camera): no ICE, no DTLS, no RTCP; a publisher
    /// whose RTP the server hands to the router (`MediaRouter.injectRTP`). Never expires.
    public var local = false

    /// A local publisher `id` of `stream` with `audio` and `video` (a camera, a trunk from a
    /// parent relay): `local`, with throwaway ICE credentials and no fingerprint, since it
    /// never speaks ICE or DTLS.
    public static func localPublisher(id: String, stream: String, audio: Track?, video: Track?) -> PeerSetup {
        let credentials = ICECredentials(ufrag: id + "~" + SecureRandom.hex(8), pwd: SecureRandom.hex(16))
        var setup = PeerSetup(id: id, role: .publisher, stream: stream, localICE: credentials, remoteICE: credentials,
                              remoteFingerprint: CertificateFingerprint(algorithm: "sha-256", digest: [UInt8](repeating: 0, count: 32)),
                              dtlsClient: false, audio: audio, video: video)
        setup.local = true
        return setup
    }

    /// A peer setup.
    public init(id: String, role: Role, stream: String, localICE: ICECredentials, remoteICE: ICECredentials,
                remoteFingerprint: CertificateFingerprint, dtlsClient: Bool, audio: Track?, video: Track?) {
        self.id = id
        self.role = role
        self.stream = stream
        self.localICE = localICE
        self.remoteICE = remoteICE
        self.remoteFingerprint = remoteFingerprint
        self.dtlsClient = dtlsClient
        self.audio = audio
        self.video = video
    }
}
