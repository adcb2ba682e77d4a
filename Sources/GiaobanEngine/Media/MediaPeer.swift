public import GiaobanCrypto
public import GiaobanICE
public import GiaobanSRTP
public import GiaobanWire

/// One WebRTC peer connection as the media loop sees it: ICE, DTLS, SRTP, and the
/// per-direction RTP state. Owned and mutated only by the media loop's thread.
public final class MediaPeer {
    /// What the control plane negotiated.
    public let setup: PeerSetup
    /// The stream this peer publishes or watches (looked up once, not per packet; the
    /// router removes the peer from the stream before forgetting it).
    let stream: RelayStream
    /// ICE-lite for this peer.
    let ice: ICELiteAgent
    /// DTLS for this peer (keys for SRTP).
    let dtls: DTLSTransport
    /// Where media goes: the nominated ICE address.
    public internal(set) var address: STUNAddress?
    /// SRTP for packets from the peer.
    var srtpIn: SRTPSession?
    /// SRTP for packets to the peer.
    var srtpOut: SRTPSession?
    /// When the peer was created (handshake timeout).
    let created: ContinuousClock.Instant
    /// When DTLS completed.
    public internal(set) var connectedAt: ContinuousClock.Instant?

    // Publisher side: the SSRCs seen per kind.
    var audioSSRC: UInt32 = 0
    var videoSSRC: UInt32 = 0
    /// The relay's own SSRC for RTCP it sends to this peer.
    let relaySSRC: UInt32

    /// Publisher side: transport-wide feedback state and when the next feedback is due.
    var transportFeedback = TransportFeedbackRecorder()
    var nextTransportFeedback: ContinuousClock.Instant

    // Subscriber side: one rewriter per kind.
    var audioOut: SequenceRewriter
    var videoOut: SequenceRewriter
    /// Packets and bytes sent per kind (sender reports).
    var audioSent = (packets: UInt32(0), octets: UInt32(0))
    var videoSent = (packets: UInt32(0), octets: UInt32(0))
    /// When the next RTCP report is due.
    var nextReport: ContinuousClock.Instant

    init(setup: PeerSetup, stream: RelayStream, dtlsContext: DTLSContext, now: ContinuousClock.Instant) throws(DTLSError) {
        self.setup = setup
        self.stream = stream
        ice = ICELiteAgent(local: setup.localICE, remote: setup.remoteICE)
        dtls = try DTLSTransport(context: dtlsContext, role: setup.dtlsClient ? .client : .server,
                             remoteFingerprint: setup.remoteFingerprint)
        created = now
        var rng = SystemRandomNumberGenerator()
        relaySSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        audioOut = SequenceRewriter(outputSSRC: setup.audio?.ssrc ?? 0, initialSequence: UInt16.random(in: 0...UInt16.max, using: &rng),
                                    initialTimestamp: UInt32.random(in: 0...UInt32.max, using: &rng))
        videoOut = SequenceRewriter(outputSSRC: setup.video?.ssrc ?? 0, initialSequence: UInt16.random(in: 0...UInt16.max, using: &rng),
                                    initialTimestamp: UInt32.random(in: 0...UInt32.max, using: &rng))
        nextReport = now + .seconds(1)
        nextTransportFeedback = now
        if setup.role == .publisher {
            audioSSRC = setup.audio?.ssrc ?? 0
            videoSSRC = setup.video?.ssrc ?? 0
        }
    }

    /// True once SRTP keys exist and an address is nominated.
    var isReady: Bool { srtpOut != nil && address != nil }

    /// Installs SRTP sessions from the DTLS keying material (RFC 5764 §4.2).
    func installKeys(_ keys: SRTPKeyingMaterial) throws(SRTPError) {
        srtpIn = try SRTPSession(profile: keys.profile, direction: .inbound, key: keys.remoteKey, salt: keys.remoteSalt)
        srtpOut = try SRTPSession(profile: keys.profile, direction: .outbound, key: keys.localKey, salt: keys.localSalt)
    }
}

/// One published stream: its publisher, its subscribers, and the state they share.
final class RelayStream {
    let name: String
    var publisher: MediaPeer?
    var subscribers: [MediaPeer] = []
    /// Recent video packets of the publisher, for NACKs.
    let videoCache: PacketCache
    /// Recent audio packets of the publisher, for NACKs.
    let audioCache: PacketCache
    /// Last PLI sent upstream, for throttling.
    var lastKeyframeRequest: ContinuousClock.Instant?
    /// A keyframe was asked for while throttled: send when allowed.
    var keyframeRequestPending = false
    /// Last sender report of the publisher per kind: NTP time and RTP timestamp, for
    /// translating to subscribers' sender reports.
    var lastVideoSR: (ntp: UInt64, rtp: UInt32, at: ContinuousClock.Instant)?
    var lastAudioSR: (ntp: UInt64, rtp: UInt32, at: ContinuousClock.Instant)?
    /// Highest video/audio input timestamps seen, for reports.
    var lastVideoTimestamp: UInt32 = 0
    var lastAudioTimestamp: UInt32 = 0
    /// Reception statistics of the publisher's streams (receiver reports to the publisher).
    var videoReception = ReceptionStatistics()
    var audioReception = ReceptionStatistics()
    /// The publisher's audio is held back from every subscriber (a chair's mute).
    var audioMuted = false
    /// The publisher's audio is held back because it is not among the room's loudest.
    var audioGated = false
    /// The publisher's latest RFC 6464 audio level (0 loud … 127 silent) and voice flag.
    var audioLevel: AudioLevelExtension?
    /// Audio packets not forwarded while muted.
    var audioHeld = 0

    init(name: String, cacheSize: Int) {
        self.name = name
        videoCache = PacketCache(capacity: cacheSize, slotSize: 1500)
        audioCache = PacketCache(capacity: 64, slotSize: 1500)
    }
}
