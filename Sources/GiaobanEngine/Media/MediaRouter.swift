public import GiaobanCrypto
public import GiaobanICE
public import GiaobanWire

/// The media plane's state machine: every datagram of the shared UDP port goes through
/// `handle`, and `tick` drives timers. It owns peers and streams, demultiplexes by first
/// byte (RFC 7983) and by address or ICE username, and forwards RTP from each stream's
/// publisher to its subscribers.
///
/// No sockets and no clock: the socket loop feeds datagrams with the time and sends what
/// lands in the `OutputQueue`. One thread owns a router; nothing here locks.
public final class MediaRouter {
    /// Tunables, from the `[media]` configuration.
    public struct Settings: Sendable {
        /// Minimum interval between keyframe requests sent to one publisher.
        public var keyframeRequestInterval: Duration = .milliseconds(500)
        /// Packets kept at most per video encoding for NACK answers.
        public var packetCacheSize = 1024
        /// Bytes of packets kept per video encoding (about 1.7 s of a 1.2 Mbit/s encoding,
        /// 5 s of a 400 kbit/s one): what a NACK can still be answered from.
        public var packetCacheBytes = 256 * 1024
        /// How long a peer may take from creation to a completed DTLS handshake.
        public var handshakeTimeout: Duration = .seconds(20)
        /// Interval of the RTCP reports the relay sends.
        public var reportInterval: Duration = .seconds(1)
        /// Interval of transport-wide feedback to publishers (libwebrtc sends it every 50–250 ms).
        public var transportFeedbackInterval: Duration = .milliseconds(100)
        /// How long a higher simulcast layer must fit a subscriber's estimate before it switches up.
        public var layerUpDelay: Duration = .milliseconds(1500)
        /// Interval of the per-subscriber layer choice.
        public var layerChoiceInterval: Duration = .milliseconds(250)
        /// Bit rate kept for audio when a subscriber's estimate is shared out.
        public var audioReserve = 64_000
        /// How often one cached packet is sent again to one subscriber at most (`security.nack_max_per_packet`).
        public var nackMaxPerPacket = 3
        /// Retransmissions to one subscriber per second at most (`security.nack_max_per_second`).
        public var nackMaxPerSecond = 500
        /// Egress lanes peers are spread over (`media.workers`): the `OutputQueue` must have as many.
        public var egressLanes = 1

        /// Defaults.
        public init() {}
    }

    let settings: Settings
    let dtlsContext: DTLSContext
    /// The counters, read by the metrics snapshot.
    public internal(set) var counters = MediaCounters()
    var peers: [String: MediaPeer] = [:]
    var peersByUfrag: [String: MediaPeer] = [:]
    var peersByAddress: [STUNAddress: MediaPeer] = [:]
    var streams: [String: RelayStream] = [:]
    /// Stream groups (meeting rooms) by id, run on the timer (`runGroups`).
    var groups: [String: StreamGroup] = [:]
    /// Events since the last `drainEvents`.
    var events: [MediaEvent] = []
    /// Scratch buffer for a cached packet being retransmitted.
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    /// When the router was created: the origin of its RTP-clock arithmetic.
    let started: ContinuousClock.Instant
    /// When subscribers' layers are chosen next.
    var nextLayerChoice: ContinuousClock.Instant
    /// Numbers the RTCP compounds read from subscribers (never 0): a NACKed sequence number
    /// repeated within one compound is answered once.
    var rtcpCompound: UInt32 = 0
    /// Subscribers per egress lane (`register`).
    var laneSubscribers: [Int] = []

    /// Creates a router whose DTLS sessions use `dtlsContext`.
    public init(settings: Settings = Settings(), dtlsContext: DTLSContext, now: ContinuousClock.Instant) {
        self.settings = settings
        self.dtlsContext = dtlsContext
        started = now
        nextLayerChoice = now
    }

    deinit { scratch.deallocate() }

    // MARK: Datagrams

    /// Handles one datagram from `source` received at `now`; responses and forwarded
    /// packets are queued on `out`.
    public func handle(_ datagram: UnsafeMutableRawBufferPointer, from source: STUNAddress,
                       now: ContinuousClock.Instant, out: OutputQueue) {
        counters.received &+= 1
        guard datagram.count > 0 else { return counters.drop(.truncated) }
        let first = datagram[0]
        // RFC 7983 §7: 0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP.
        switch first {
        case 0...3: handleSTUN(UnsafeRawBufferPointer(datagram), from: source, now: now, out: out)
        case 20...63: handleDTLS(UnsafeRawBufferPointer(datagram), from: source, now: now, out: out)
        case 128...191: handleSRTP(datagram, from: source, now: now, out: out)
        default: counters.drop(.unknownFirstByte)
        }
    }

    func handleSTUN(_ bytes: UnsafeRawBufferPointer, from source: STUNAddress, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let message = try? STUNMessageView(bytes) else { return counters.drop(.stunMalformed) }
        guard message.type == .bindingRequest else { return counters.drop(.stunNotRequest) }
        guard let username = message.username, let ufrag = ICELiteAgent.localUfrag(ofUsername: username.value),
              let peer = peersByUfrag[ufrag] else { return counters.drop(.stunUnknownUser) }
        let slot = out.nextSlot(lane: peer.lane)
        switch peer.ice.handle(message, from: source, now: now, into: slot) {
        case .drop(let reason):
            switch reason {
            case .badIntegrity: counters.drop(.stunBadIntegrity)
            case .badFingerprint: counters.drop(.stunBadFingerprint)
            case .badUsername: counters.drop(.stunBadUsername)
            case .badRequest: counters.drop(.stunBadRequest)
            case .replayed: counters.drop(.stunReplayed)
            }
        case .respond(let length, let nominated):
            out.commit(length: length, to: source, lane: peer.lane)
            counters.stunAnswered &+= 1
            if nominated { nominate(peer, address: source, now: now, out: out) }
        }
    }

    func nominate(_ peer: MediaPeer, address: STUNAddress, now: ContinuousClock.Instant, out: OutputQueue) {
        if let old = peer.address, peersByAddress[old] === peer { peersByAddress.removeValue(forKey: old) }
        peer.address = address
        peersByAddress[address] = peer
        events.append(.nominated(peer: peer.setup.id, address: address))
        if !peer.dtlsStarted && peer.setup.dtlsClient {
            peer.dtlsStarted = true
            for datagram in peer.dtls.start(now: now) { datagram.withUnsafeBytes { out.enqueue($0, to: address, lane: peer.lane) } }
        }
    }

    func handleDTLS(_ bytes: UnsafeRawBufferPointer, from source: STUNAddress, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let peer = peersByAddress[source] else { return counters.drop(.dtlsNoPeer) }
        let before = peer.dtls.droppedDatagrams
        let step = peer.dtls.receive(bytes, now: now)
        if peer.dtls.droppedDatagrams != before { counters.drop(.dtlsBadRecord) }
        apply(step, to: peer, now: now, out: out)
    }

    func apply(_ step: DTLSStep, to peer: MediaPeer, now: ContinuousClock.Instant, out: OutputQueue) {
        if let address = peer.address {
            for datagram in step.outgoing { datagram.withUnsafeBytes { out.enqueue($0, to: address, lane: peer.lane) } }
        }
        for event in step.events { handle(event, of: peer, now: now, out: out) }
    }

    func handle(_ event: DTLSEvent, of peer: MediaPeer, now: ContinuousClock.Instant, out: OutputQueue) {
        switch event {
        case .connected(let keys):
            do {
                try peer.installKeys(keys)
                peer.connectedAt = now
                counters.dtlsConnected &+= 1
                events.append(.connected(peer: peer.setup.id))
                for subscription in peer.subscriptions where subscription.video != nil {
                    requestKeyframe(subscription.stream, layer: subscription.wantedLayer, now: now, out: out)
                }
            } catch {
                counters.dtlsFailed &+= 1
                removePeer(id: peer.setup.id, reason: "SRTP setup failed: \(error)", out: out)
            }
        case .failed(let error):
            counters.dtlsFailed &+= 1
            removePeer(id: peer.setup.id, reason: "DTLS failed: \(error)", out: nil)
        case .closed:
            removePeer(id: peer.setup.id, reason: "peer closed DTLS", out: nil)
        case .applicationData:
            break  // no data channels yet
        }
    }
}

extension MediaRouter {
    /// Counts a drop decided by the socket loop (e.g. a truncated datagram).
    public func countDrop(_ reason: DropReason) { counters.drop(reason) }
}

extension MediaRouter {
    /// Sends one RTP payload the relay produced (a mix) to subscriber `id` of a local stream;
    /// audio is numbered by the producer per listener, video (one stream for everyone) is
    /// renumbered into the subscriber's own sequence space. False when the peer is not a
    /// ready subscriber with that kind.
    @discardableResult
    public func sendLocal(to id: String, kind: PeerSetup.Track.Kind, payload: UnsafeRawBufferPointer, sequence: UInt16,
                          timestamp: UInt32, marker: Bool, level: AudioLevelExtension? = nil, now: ContinuousClock.Instant,
                          out: OutputQueue) -> Bool {
        guard let peer = peers[id], peer.setup.role == .subscriber, let destination = peer.address, let srtp = peer.srtpOut,
              let subscription = peer.subscriptions.first(where: { $0.stream.localTracks != nil }) ?? peer.subscriptions.first,
              let track = kind == .audio ? subscription.audio : subscription.video else { return false }
        var (sequence, timestamp) = (sequence, timestamp)
        if kind == .video {
            guard let mapped = subscription.videoOut.rewrite(sequence: sequence, timestamp: timestamp) else { return false }
            (sequence, timestamp) = mapped
        }
        let slot = out.nextSlot(lane: peer.lane)
        let levelID = kind == .audio ? peer.setup.audioLevelExtensionID : nil
        let length = writePacket(payload, to: peer, marker: marker, payloadType: track.payloadType, ssrc: track.ssrc,
                                 sequence: sequence, timestamp: timestamp, level: levelID.flatMap { id in level.map { (id, $0.byte) } },
                                 now: now, into: slot)
        guard length > 0, out.commitProtected(length: length, to: destination, lane: peer.lane, context: srtp, rtcp: false) else {
            return false
        }
        counters.rtpMixed &+= 1
        if kind == .audio {
            subscription.audioSent.packets &+= 1
            subscription.audioSent.octets &+= UInt32(truncatingIfNeeded: payload.count)
        } else {
            subscription.videoSent.packets &+= 1
            subscription.videoSent.octets &+= UInt32(truncatingIfNeeded: payload.count)
        }
        return true
    }

}
