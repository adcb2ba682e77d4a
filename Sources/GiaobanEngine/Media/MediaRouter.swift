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

        /// Defaults.
        public init() {}
    }

    /// What happened to a peer, for the control plane (logs, session bookkeeping).
    public enum PeerEvent: Sendable, Equatable {
        /// ICE nominated an address.
        case nominated(peer: String, address: STUNAddress)
        /// DTLS completed; media can flow.
        case connected(peer: String)
        /// The peer is gone: `reason` says why (consent expired, DTLS failed, closed, removed).
        case removed(peer: String, reason: String)
    }

    let settings: Settings
    let dtlsContext: DTLSContext
    /// The counters, read by the metrics snapshot.
    public internal(set) var counters = MediaCounters()
    var peers: [String: MediaPeer] = [:]
    var peersByUfrag: [String: MediaPeer] = [:]
    var peersByAddress: [STUNAddress: MediaPeer] = [:]
    var streams: [String: RelayStream] = [:]
    /// Events since the last `drainEvents`.
    var events: [PeerEvent] = []
    /// Scratch buffer for a cached packet being retransmitted.
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 16)
    /// When the router was created: the origin of its RTP-clock arithmetic.
    let started: ContinuousClock.Instant
    /// When subscribers' layers are chosen next.
    var nextLayerChoice: ContinuousClock.Instant
    /// Numbers the RTCP compounds read from subscribers (never 0): a NACKed sequence number
    /// repeated within one compound is answered once.
    var rtcpCompound: UInt32 = 0

    /// Creates a router whose DTLS sessions use `dtlsContext`.
    public init(settings: Settings = Settings(), dtlsContext: DTLSContext, now: ContinuousClock.Instant) {
        self.settings = settings
        self.dtlsContext = dtlsContext
        started = now
        nextLayerChoice = now
    }

    deinit { scratch.deallocate() }

    // MARK: Commands from the control plane

    /// Adds a peer negotiated by the control plane; a client-role DTLS peer starts its
    /// handshake once ICE nominates an address.
    public func addPeer(_ setup: PeerSetup, now: ContinuousClock.Instant) throws(DTLSError) {
        removePeer(id: setup.id, reason: "replaced", out: nil)
        switch setup.role {
        case .publisher:
            let stream = relayStream(setup.stream)
            let peer = try MediaPeer(setup: setup, published: stream, dtlsContext: dtlsContext, now: now)
            register(peer)
            if let old = stream.publisher { removePeer(id: old.setup.id, reason: "replaced by a new publisher", out: nil) }
            stream.publisher = peer
            stream.adopt(setup)
            // Watchers stay; their streams continue from the new publisher without a gap.
            for subscription in stream.subscribers {
                subscription.videoOut.expectNewSource(timestampGap: 3000)
                subscription.audioOut.expectNewSource(timestampGap: 960)
            }
            // After the replacement: removing the only peer of a stream removed the stream from the table.
            streams[setup.stream] = stream
        case .subscriber:
            let peer = try MediaPeer(setup: setup, published: nil, dtlsContext: dtlsContext, now: now)
            register(peer)
            // A WHEP peer receives its one stream; a downlink (no stream) gets its subscriptions later.
            if !setup.stream.isEmpty { subscribe(peer, to: setup.stream, audio: setup.audio, video: setup.video) }
        }
    }

    /// The stream named `name`, or a new one (not yet in the table).
    func relayStream(_ name: String) -> RelayStream {
        streams[name] ?? RelayStream(name: name, cacheSize: settings.packetCacheSize, cacheBytes: settings.packetCacheBytes)
    }

    func register(_ peer: MediaPeer) {
        peers[peer.setup.id] = peer
        peersByUfrag[peer.setup.localICE.ufrag] = peer
    }

    /// Removes a peer (DELETE of its session, or a timeout); sends a DTLS close_notify if `out` is given.
    public func removePeer(id: String, reason: String, out: OutputQueue?) {
        guard let peer = peers.removeValue(forKey: id) else { return }
        if let out, let address = peer.address {
            for datagram in peer.dtls.close() { datagram.withUnsafeBytes { out.enqueue($0, to: address) } }
        }
        if peersByUfrag[peer.ice.local.ufrag] === peer { peersByUfrag.removeValue(forKey: peer.ice.local.ufrag) }
        if let address = peer.address, peersByAddress[address] === peer { peersByAddress.removeValue(forKey: address) }
        if let stream = peer.published {
            if stream.publisher === peer { stream.publisher = nil }
            dropIfUnused(stream)
        }
        for subscription in peer.subscriptions { unsubscribe(subscription) }
        peer.subscriptions.removeAll()
        peer.ended.removeAll()
        events.append(.removed(peer: id, reason: reason))
    }

    /// True when a publisher exists for `stream`.
    public func hasPublisher(stream: String) -> Bool { streams[stream]?.publisher != nil }

    /// Holds back (or releases) the audio of `stream`'s publisher for every subscriber: a
    /// mute at the relay, which the muted client cannot undo. False when there is no such stream.
    @discardableResult
    public func setAudioMuted(stream: String, _ muted: Bool) -> Bool {
        guard let relay = streams[stream] else { return false }
        relay.audioMuted = muted
        return true
    }

    /// Holds back (or releases) `stream`'s audio because the room forwards only its loudest
    /// speakers; separate from a chair's mute, which it neither sets nor clears.
    @discardableResult
    public func setAudioGated(stream: String, _ gated: Bool) -> Bool {
        guard let relay = streams[stream] else { return false }
        relay.audioGated = gated
        return true
    }

    /// Holds back (or lets through) `stream`'s video for every subscriber because the room
    /// forwards only its last-N speakers' video. Held back, subscribers stop at once; let
    /// through, each resumes at the next keyframe (requested now), with no gap in its numbering.
    /// False when there is no such stream.
    @discardableResult
    public func setVideoGated(stream: String, _ gated: Bool, now: ContinuousClock.Instant, out: OutputQueue) -> Bool {
        guard let relay = streams[stream] else { return false }
        guard relay.videoGated != gated else { return true }
        relay.videoGated = gated
        for subscriber in relay.subscribers where subscriber.video != nil {
            if gated {
                subscriber.layer = -1
                if !relay.isSimulcast { subscriber.targetLayer = 0 }
            } else {
                if relay.isSimulcast && subscriber.targetLayer < 0 { subscriber.targetLayer = relay.ranked.last ?? 0 }
                requestKeyframe(relay, layer: subscriber.targetLayer, now: now, out: out)
            }
        }
        return true
    }

    /// Streams whose video is held back by the last-N rule.
    public func videoGatedStreams() -> [String] { streams.values.filter(\.videoGated).map(\.name).sorted() }

    /// One published stream's audio as the relay sees it.
    public struct AudioActivity: Sendable, Equatable {
        /// The stream.
        public var stream: String
        /// The latest RFC 6464 level, 0 (loudest) to 127 (silence); nil before any.
        public var level: UInt8?
        /// The latest voice-activity flag.
        public var voice: Bool
        /// Whether a chair's mute holds its audio back.
        public var muted: Bool
        /// Whether the room holds its audio back (not among the loudest).
        public var gated: Bool
        /// Audio packets held back while muted or gated.
        public var held: Int

        /// Creates a value.
        public init(stream: String, level: UInt8?, voice: Bool, muted: Bool, gated: Bool = false, held: Int) {
            self.stream = stream
            self.level = level
            self.voice = voice
            self.muted = muted
            self.gated = gated
            self.held = held
        }
    }

    /// How a publisher's link looks from the relay: its streams' loss and jitter over the
    /// last report interval (about a second).
    public struct UpstreamQuality: Sendable, Equatable {
        /// The stream.
        public var stream: String
        /// The larger of the audio and video fractions lost (0–1).
        public var loss: Double
        /// The audio interarrival jitter in ms (video's when there is no audio).
        public var jitterMilliseconds: Double
    }

    /// Every stream with a connected publisher, by name.
    public func upstreamQuality() -> [UpstreamQuality] {
        streams.values.compactMap { stream -> UpstreamQuality? in
            guard let publisher = stream.publisher, publisher.connectedAt != nil else { return nil }
            let videoLoss = stream.layers.map { Double($0.reception.lastFractionLost) / 256 }.max() ?? 0
            let audioLoss = Double(stream.audioReception.lastFractionLost) / 256
            let jitter = publisher.audioSSRC != 0 ? stream.audioReception.jitterUnits / 48
                : (stream.layers.first?.reception.jitterUnits ?? 0) / 90
            return UpstreamQuality(stream: stream.name, loss: max(videoLoss, audioLoss), jitterMilliseconds: jitter)
        }.sorted { $0.stream < $1.stream }
    }

    /// Every stream with a publisher, by name.
    public func audioActivity() -> [AudioActivity] {
        streams.values.filter { $0.publisher != nil }.map {
            AudioActivity(stream: $0.name, level: $0.audioLevel?.level, voice: $0.audioLevel?.voiceActivity ?? false,
                          muted: $0.audioMuted, gated: $0.audioGated, held: $0.audioHeld)
        }.sorted { $0.stream < $1.stream }
    }

    /// The number of peers.
    public var peerCount: Int { peers.count }

    /// Returns and clears the events since the last call.
    public func drainEvents() -> [PeerEvent] {
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

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
        let slot = out.nextSlot()
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
            out.commit(length: length, to: source)
            counters.stunAnswered &+= 1
            if nominated { nominate(peer, address: source, now: now, out: out) }
        }
    }

    func nominate(_ peer: MediaPeer, address: STUNAddress, now: ContinuousClock.Instant, out: OutputQueue) {
        if let old = peer.address, peersByAddress[old] === peer { peersByAddress.removeValue(forKey: old) }
        let firstTime = peer.address == nil
        peer.address = address
        peersByAddress[address] = peer
        events.append(.nominated(peer: peer.setup.id, address: address))
        if firstTime && peer.setup.dtlsClient {
            for datagram in peer.dtls.start(now: now) { datagram.withUnsafeBytes { out.enqueue($0, to: address) } }
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
            for datagram in step.outgoing { datagram.withUnsafeBytes { out.enqueue($0, to: address) } }
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
    /// The codecs the publisher of `stream` negotiated (or the relay's own tracks of a local
    /// stream), nil when nobody publishes it.
    public func publishedTracks(stream: String) -> Negotiation.PublishedTracks? {
        if let local = streams[stream]?.localTracks { return local }
        guard let publisher = streams[stream]?.publisher else { return nil }
        return Negotiation.PublishedTracks(audio: publisher.setup.audio, video: publisher.setup.video)
    }

    /// Sends a copy of `stream`'s published audio to `sink` (nil stops it).
    public func setAudioSink(stream: String, _ sink: (any AudioSink)?) {
        let relay = relayStream(stream)
        relay.audioSink = sink
        streams[stream] = relay
        dropIfUnused(relay)
    }

    /// Sends a copy of `stream`'s published video (its highest layer) to `sink` (nil stops it).
    public func setVideoSink(stream: String, _ sink: (any VideoSink)?) {
        let relay = relayStream(stream)
        relay.videoSink = sink
        streams[stream] = relay
        dropIfUnused(relay)
    }

    /// Asks the publisher of `stream` for a keyframe of its highest layer (throttled).
    public func requestKeyframe(stream name: String, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let stream = streams[name], !stream.layers.isEmpty else { return }
        requestKeyframe(stream, layer: stream.ranked.last ?? 0, now: now, out: out)
    }

    /// Declares a stream the relay produces itself (a meeting's mix), so receivers can
    /// subscribe to it; `keyframeRequested` answers their PLI/FIR. Nil tracks remove it.
    public func setLocalStream(_ stream: String, tracks: Negotiation.PublishedTracks?,
                               keyframeRequested: (@Sendable () -> Void)? = nil) {
        let relay = relayStream(stream)
        relay.localTracks = tracks
        relay.keyframeRequested = tracks == nil ? nil : keyframeRequested
        streams[stream] = relay
        dropIfUnused(relay)
    }

    /// Forgets a stream nobody publishes, watches, mixes or produces.
    func dropIfUnused(_ stream: RelayStream) {
        if stream.publisher == nil && stream.subscribers.isEmpty && stream.audioSink == nil && stream.localTracks == nil
            && stream.videoSink == nil {
            streams.removeValue(forKey: stream.name)
        }
    }

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
        let slot = out.nextSlot()
        let levelID = kind == .audio ? peer.setup.audioLevelExtensionID : nil
        let length = writePacket(payload, to: peer, marker: marker, payloadType: track.payloadType, ssrc: track.ssrc,
                                 sequence: sequence, timestamp: timestamp, level: levelID.flatMap { id in level.map { (id, $0.byte) } },
                                 now: now, into: slot)
        guard length > 0, let protected = try? srtp.protectRTP(slot, length: length) else { return false }
        out.commit(length: protected, to: destination)
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

    /// The DTLS fingerprint peer `id` must present (an ICE restart may not change it).
    public func remoteFingerprint(peer id: String) -> CertificateFingerprint? { peers[id]?.setup.remoteFingerprint }

    /// True when a peer with `id` exists.
    public func hasPeer(id: String) -> Bool { peers[id] != nil }
}
