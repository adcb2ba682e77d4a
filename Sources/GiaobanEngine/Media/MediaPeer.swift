public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire
import GiaobanRTP

/// One WebRTC peer connection as the media loop sees it: ICE, DTLS, SRTP, and the
/// per-direction RTP state. Owned and mutated only by the media loop's thread.
public final class MediaPeer {
    /// What the control plane negotiated.
    public let setup: PeerSetup
    /// The stream this peer publishes, nil for a subscriber (looked up once, not per packet;
    /// the router detaches the peer before forgetting it).
    let published: RelayStream?
    /// Subscriber: the streams it receives over this one connection (one for WHEP, any number
    /// for a meeting's downlink), each with its own SSRCs and numbering.
    var subscriptions: [Subscription] = []
    /// The numbering of subscriptions ended while the connection lives, by stream: when the
    /// same stream comes back with the same SSRCs (a downlink m-line made active again), it
    /// continues. Only the numbering is kept, never the stream (its packet caches go with it).
    var ended: [String: Subscription.Numbering] = [:]
    /// ICE-lite for this peer.
    var ice: ICELiteAgent
    /// DTLS for this peer (keys for SRTP).
    let dtls: DTLSTransport
    /// Where media goes: the nominated ICE address.
    public internal(set) var address: STUNAddress?
    /// SRTP for packets from the peer.
    var srtpIn: SRTPContext?
    /// SRTP for packets to the peer: once keyed, used only by the thread of the peer's
    /// egress lane (the media thread for lane 0, that lane's worker otherwise).
    var srtpOut: SRTPContext?
    /// The egress lane every packet to this peer takes (`OutputQueue`), fixed for its life.
    public internal(set) var lane = 0
    /// When the peer was created (handshake timeout).
    let created: ContinuousClock.Instant
    /// When DTLS completed.
    public internal(set) var connectedAt: ContinuousClock.Instant?
    /// Whether the relay, as the DTLS client, has started the handshake (on the first nomination only).
    var dtlsStarted = false

    // Publisher side: the audio SSRC seen (video SSRCs are per layer, in the stream).
    var audioSSRC: UInt32 = 0
    /// The relay's own SSRC for RTCP it sends to this peer.
    let relaySSRC: UInt32

    /// Publisher side: transport-wide feedback state and when the next feedback is due.
    var transportFeedback = TransportFeedbackRecorder()
    var nextTransportFeedback: ContinuousClock.Instant

    /// When the next RTCP report is due.
    var nextReport: ContinuousClock.Instant

    // Subscriber side, for the whole connection (the subscriptions share its link).
    /// The subscriber's bandwidth estimate in bit/s (REMB), nil before the first.
    var estimate: Int?
    /// The send-side estimate from the subscriber's transport-wide feedback, when negotiated.
    var bandwidth: BandwidthEstimator?
    /// The transport-wide sequence number extension id written on packets to the subscriber (0: none).
    var egressTransportCC: UInt8 = 0
    /// The transport-wide number each recent packet to the subscriber carried, by (SSRC,
    /// sequence number): a retransmission must go out byte for byte as the original did, since
    /// SRTP protects it under the same index again (with AES-GCM a second, different packet
    /// under one nonce would give away the authentication key, RFC 7714 §8.1).
    var sentTransport = SentTransportNumbers()
    /// Retransmissions the subscriber may still ask for this second (`nackMaxPerSecond`).
    var retransmissionBudget = TokenBucket()

    init(setup: PeerSetup, published: RelayStream?, dtlsContext: DTLSContext, now: ContinuousClock.Instant) throws(DTLSError) {
        self.setup = setup
        self.published = published
        ice = ICELiteAgent(local: setup.localICE, remote: setup.remoteICE)
        dtls = try DTLSTransport(context: dtlsContext, role: setup.dtlsClient ? .client : .server,
                             remoteFingerprint: setup.remoteFingerprint)
        created = now
        var rng = SystemRandomNumberGenerator()
        relaySSRC = UInt32.random(in: 1...UInt32.max, using: &rng)
        nextReport = now + .seconds(1)
        nextTransportFeedback = now
        if setup.role == .publisher { audioSSRC = setup.audio?.ssrc ?? 0 }
        if setup.local { connectedAt = now }
        if setup.role == .subscriber, let id = setup.transportCCExtensionID {
            egressTransportCC = id
            bandwidth = BandwidthEstimator()
        }
    }

    /// The subscription that sends with `ssrc` (the media SSRC of a NACK or PLI), and whether
    /// it is the video one.
    func subscription(ssrc: UInt32) -> (Subscription, isVideo: Bool)? {
        for subscription in subscriptions {
            if let video = subscription.video, video.ssrc == ssrc { return (subscription, true) }
            if let audio = subscription.audio, audio.ssrc == ssrc { return (subscription, false) }
        }
        return nil
    }

    /// True once SRTP keys exist and an address is nominated.
    var isReady: Bool { srtpOut != nil && address != nil }

    /// Installs SRTP sessions from the DTLS keying material (RFC 5764 §4.2).
    func installKeys(_ keys: SRTPKeyingMaterial) throws(SRTPError) {
        srtpIn = try SRTPContext(profile: keys.profile, direction: .inbound, key: keys.remoteKey, salt: keys.remoteSalt)
        srtpOut = try SRTPContext(profile: keys.profile, direction: .outbound, key: keys.localKey, salt: keys.localSalt)
    }
}

/// One stream as one subscriber connection receives it: the SSRCs the relay sends with, the
/// numbering (sequence numbers, timestamps, VP8 picture IDs) and the simulcast layer. A WHEP
/// peer has one; a meeting's downlink has one per watched participant.
final class Subscription {
    /// The connection it is sent on (transport, SRTP, link estimate). The router breaks this
    /// reference cycle when it removes the peer.
    let peer: MediaPeer
    /// The stream received.
    let stream: RelayStream
    /// The negotiated tracks: the relay's SSRC and the payload type the subscriber expects.
    let audio: PeerSetup.Track?
    let video: PeerSetup.Track?
    /// One rewriter per kind.
    var audioOut: SequenceRewriter
    var videoOut: SequenceRewriter
    /// Packets and bytes sent per kind (sender reports).
    var audioSent = (packets: UInt32(0), octets: UInt32(0))
    var videoSent = (packets: UInt32(0), octets: UInt32(0))
    /// The layer forwarded now (an index into the stream's layers), -1 for none.
    var layer = 0
    /// The layer wanted: the switch happens on its next keyframe; -1 pauses video.
    var targetLayer = 0
    /// The highest layer rank the subscriber asked for (0 = lowest): a thumbnail or the main view.
    var maxLayerRank = Int.max
    /// The one layer rank taken whatever the estimate (`PeerSetup.layerRank`), nil to choose.
    var pinnedLayerRank: Int?
    /// Since when a higher layer would fit (switching up waits for it to last).
    var upSince: ContinuousClock.Instant?
    /// VP8 picture ID and TL0PICIDX continuity across layer switches.
    var pictures = VP8PictureRewriter()
    /// When the last video packet went out (the timestamp gap of a switch).
    var lastVideoSentAt: ContinuousClock.Instant?
    /// When the last audio packet went out (the timestamp gap of a resumption).
    var lastAudioSentAt: ContinuousClock.Instant?
    /// Layer switches made for this subscription.
    var layerSwitches = 0
    /// What was sent again per packet, per kind: made on the first NACK of that kind.
    var audioRetransmissions: RetransmissionLog?
    var videoRetransmissions: RetransmissionLog?

    /// What an ended subscription leaves behind for a later one on the same SSRCs.
    struct Numbering {
        let audioSSRC: UInt32?
        let videoSSRC: UInt32?
        let audioOut: SequenceRewriter
        let videoOut: SequenceRewriter
        let audioSent: (packets: UInt32, octets: UInt32)
        let videoSent: (packets: UInt32, octets: UInt32)
        let pictures: VP8PictureRewriter
        let lastVideoSentAt: ContinuousClock.Instant?
        let lastAudioSentAt: ContinuousClock.Instant?
    }

    /// This subscription's numbering, kept when it ends.
    var numbering: Numbering {
        Numbering(audioSSRC: audio?.ssrc, videoSSRC: video?.ssrc, audioOut: audioOut, videoOut: videoOut, audioSent: audioSent,
                  videoSent: videoSent, pictures: pictures, lastVideoSentAt: lastVideoSentAt, lastAudioSentAt: lastAudioSentAt)
    }

    /// Continues `earlier`'s numbering on the same SSRCs: the next packet of each kind follows
    /// the last one sent, its timestamp advanced by the time since (RFC 3550 §5.1: the same
    /// SSRC must not jump back or repeat).
    func resume(_ earlier: Numbering, now: ContinuousClock.Instant) {
        audioOut = earlier.audioOut
        videoOut = earlier.videoOut
        audioSent = earlier.audioSent
        videoSent = earlier.videoSent
        pictures = earlier.pictures
        lastVideoSentAt = earlier.lastVideoSentAt
        lastAudioSentAt = earlier.lastAudioSentAt
        audioOut.expectNewSource(timestampGap: Self.ticks(since: earlier.lastAudioSentAt, now: now, clockRate: 48_000))
        videoOut.expectNewSource(timestampGap: Self.ticks(since: earlier.lastVideoSentAt, now: now, clockRate: 90_000))
    }

    /// The RTP clock ticks from `last` to `now` (at least one; a frame's worth when unknown).
    static func ticks(since last: ContinuousClock.Instant?, now: ContinuousClock.Instant, clockRate: Int64) -> UInt32 {
        guard let last else { return UInt32(clockRate / 30) }
        let elapsed = now - last
        let ticks = elapsed.components.seconds * clockRate + elapsed.components.attoseconds / (1_000_000_000_000_000_000 / clockRate)
        return UInt32(clamping: max(1, ticks))
    }

    init(peer: MediaPeer, stream: RelayStream, audio: PeerSetup.Track?, video: PeerSetup.Track?) {
        self.peer = peer
        self.stream = stream
        self.audio = audio
        self.video = video
        var rng = SystemRandomNumberGenerator()
        audioOut = SequenceRewriter(outputSSRC: audio?.ssrc ?? 0, initialSequence: UInt16.random(in: 0...UInt16.max, using: &rng),
                                    initialTimestamp: UInt32.random(in: 0...UInt32.max, using: &rng))
        videoOut = SequenceRewriter(outputSSRC: video?.ssrc ?? 0, initialSequence: UInt16.random(in: 0...UInt16.max, using: &rng),
                                    initialTimestamp: UInt32.random(in: 0...UInt32.max, using: &rng))
    }
}

/// One published stream: its publisher, its subscribers, and the state they share.
final class RelayStream {
    let name: String
    var publisher: MediaPeer?
    var subscribers: [Subscription] = []
    /// The publisher's video encodings: one without simulcast, else one per rid.
    var layers: [VideoLayer] = []
    /// Layer indices from the lowest to the highest quality (picture size, then bitrate).
    var ranked: [Int] = []
    /// Recent audio packets of the publisher, for NACKs.
    let audioCache: PacketCache
    /// Packets and bytes kept per video layer.
    let cacheSize: Int
    let cacheBytes: Int
    /// Last sender report of the publisher's audio: NTP time and RTP timestamp, for
    /// translating to subscribers' sender reports (video keeps one per layer).
    var lastAudioSR: (ntp: UInt64, rtp: UInt32, at: ContinuousClock.Instant)?
    /// Highest audio input timestamp seen, for reports.
    var lastAudioTimestamp: UInt32 = 0
    /// Reception statistics of the publisher's audio (receiver reports to the publisher).
    var audioReception = ReceptionStatistics()
    /// What is held back of the stream for every subscriber (a chair's mute, its group's gates);
    /// set by commands and by the stream's group, read per packet.
    var policy = StreamPolicy()
    /// The publisher's latest RFC 6464 audio level (0 loud … 127 silent) and voice flag.
    var audioLevel: AudioLevelExtension?
    /// Audio packets not forwarded while muted or gated.
    var audioHeld = 0
    /// Where the publisher's audio also goes (a meeting's mixer, a recorder), unless the chair
    /// muted it; each sink once.
    var audioSinks: [any AudioSink] = []
    /// A stream the relay itself produces (a meeting's mix): its tracks, as a publisher's would be.
    var localTracks: Negotiation.PublishedTracks?
    /// Where the publisher's video (its highest layer) also goes (a meeting's compositor, a
    /// recorder); each sink once.
    var videoSinks: [any VideoSink] = []
    /// A local stream's answer to a receiver's keyframe request (the compositor's, a trunk's),
    /// given the layer index wanted (-1: none chosen yet).
    var keyframeRequested: (@Sendable (_ layer: Int) -> Void)?

    init(name: String, cacheSize: Int, cacheBytes: Int) {
        self.name = name
        self.cacheSize = cacheSize
        self.cacheBytes = cacheBytes
        audioCache = PacketCache(capacity: 64, slotSize: 1500, byteCapacity: 32 * 1024)
    }

    /// True when the publisher sends more than one encoding.
    var isSimulcast: Bool { layers.count > 1 }

    /// Sets up the layers of a new publisher; its subscribers start again from a keyframe
    /// (simulcast) or continue from the new source without a gap (one layer).
    func adopt(_ publisher: PeerSetup) {
        let rids = publisher.simulcastRIDs
        if !publisher.layerSSRCs.isEmpty {
            layers = publisher.layerSSRCs.map { VideoLayer(rid: "", ssrc: $0, cacheSize: cacheSize, cacheBytes: cacheBytes) }
        } else {
            layers = rids.isEmpty ? [VideoLayer(rid: "", ssrc: publisher.video?.ssrc ?? 0, cacheSize: cacheSize, cacheBytes: cacheBytes)]
                                  : rids.map { VideoLayer(rid: $0, ssrc: 0, cacheSize: cacheSize, cacheBytes: cacheBytes) }
        }
        ranked = Array(layers.indices)
        for subscriber in subscribers { subscriber.resetLayer(simulcast: isSimulcast) }
    }

    /// Orders the layers by picture size (from keyframes), then measured bitrate.
    func rank() {
        let layers = self.layers
        ranked = layers.indices.sorted {
            let a = layers[$0], b = layers[$1]
            if a.width * a.height != b.width * b.height { return a.width * a.height < b.width * b.height }
            return a.bitrate < b.bitrate
        }
    }

    /// The rank of layer `index` (0 = lowest), -1 for none.
    func rank(of index: Int) -> Int { index < 0 ? -1 : ranked.firstIndex(of: index) ?? -1 }
}

extension Subscription {
    /// A subscriber starts over on its stream's layers: without simulcast the one layer is
    /// forwarded at once; with simulcast nothing is until the chosen layer's next keyframe.
    func resetLayer(simulcast: Bool) {
        layer = simulcast ? -1 : 0
        targetLayer = simulcast ? -1 : 0
        upSince = nil
    }
}

extension Subscription {
    /// The layer a keyframe request should be about: the one forwarded, else the one wanted.
    var wantedLayer: Int { layer >= 0 ? layer : targetLayer }
}

extension MediaPeer {
    /// What the subscriber's link is believed to carry (bit/s): the smaller of its REMB and the
    /// relay's own estimate from transport-wide feedback; nil when there is neither.
    var linkEstimate: Int? {
        let own = bandwidth.flatMap { $0.feedbacks > 0 ? $0.estimate : nil }
        switch (estimate, own) {
        case (let remb?, let own?): return min(remb, own)
        case (let remb?, nil): return remb
        case (nil, let own?): return own
        case (nil, nil): return nil
        }
    }
}

/// Receives a copy of published video on the media thread (a meeting's compositor), with the
/// same rules as `AudioSink`.
public protocol VideoSink: AnyObject, Sendable {
    /// One VP8 RTP payload of `source` (the stream name).
    func push(source: String, sequence: UInt16, timestamp: UInt32, marker: Bool, payload: UnsafeRawBufferPointer)
}

/// An audio or video sink that also wants the publisher's sender reports (RFC 3550 §6.4.1):
/// the NTP time and the RTP timestamp of one instant, per track, so that it can put the two
/// tracks on one clock (a recorder). Called on the media thread; must be quick.
public protocol SenderReportSink: AnyObject, Sendable {
    /// `source`'s audio (or video: its highest layer, the one video sinks receive) was at RTP
    /// timestamp `rtp` at NTP time `ntp` (64-bit, RFC 5905 format).
    func senderReport(source: String, video: Bool, ntp: UInt64, rtp: UInt32)
}

/// Receives a copy of published audio on the media thread (a meeting's mixer). `push` must
/// be quick and must copy what it keeps: the bytes are the router's receive buffer.
public protocol AudioSink: AnyObject, Sendable {
    /// One Opus packet of `source` (the stream name), with its RFC 6464 level if negotiated.
    func push(source: String, sequence: UInt16, timestamp: UInt32, payload: UnsafeRawBufferPointer, level: AudioLevelExtension?)
}

/// The transport-wide numbers of the last 2,048 packets sent to one peer, by SSRC and sequence
/// number (a fixed table; no allocation after creation).
struct SentTransportNumbers {
    private var keys = [UInt64](repeating: .max, count: 2048)
    private var numbers = [UInt16](repeating: 0, count: 2048)

    private static func key(ssrc: UInt32, sequence: UInt16) -> UInt64 { UInt64(ssrc) << 16 | UInt64(sequence) }
    private static func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key ^ key >> 29) & 2047) }

    /// Remembers that the packet `ssrc`/`sequence` carried transport-wide number `number`.
    @inline(__always)
    mutating func record(ssrc: UInt32, sequence: UInt16, number: UInt16) {
        let key = Self.key(ssrc: ssrc, sequence: sequence)
        let slot = Self.slot(key)
        keys[slot] = key
        numbers[slot] = number
    }

    /// The number packet `ssrc`/`sequence` carried, or nil when it is no longer remembered.
    func number(ssrc: UInt32, sequence: UInt16) -> UInt16? {
        let key = Self.key(ssrc: ssrc, sequence: sequence)
        let slot = Self.slot(key)
        return keys[slot] == key ? numbers[slot] : nil
    }
}
