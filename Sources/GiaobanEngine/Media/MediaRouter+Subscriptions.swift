public import GiaobanICE

/// What each subscriber connection receives: its subscriptions (one stream for WHEP, any
/// number for a meeting's downlink), their layer caps and state, and ICE restarts.
extension MediaRouter {
    /// Adds a subscription of `peer` to stream `name` (created if nobody publishes it yet).
    @discardableResult
    func subscribe(_ peer: MediaPeer, to name: String, audio: PeerSetup.Track?, video: PeerSetup.Track?) -> Subscription {
        let stream = relayStream(name)
        streams[name] = stream
        let subscription = Subscription(peer: peer, stream: stream, audio: audio, video: video)
        subscription.resetLayer(simulcast: stream.isSimulcast)
        stream.subscribers.append(subscription)
        peer.subscriptions.append(subscription)
        return subscription
    }

    /// Ends one subscription: off its stream and its peer. A connection that lives on keeps it
    /// in `ended`, in case the same stream comes back on the same SSRCs.
    func unsubscribe(_ subscription: Subscription, keep: Bool = false) {
        let stream = subscription.stream
        stream.subscribers.removeAll { $0 === subscription }
        subscription.peer.subscriptions.removeAll { $0 === subscription }
        if keep { subscription.peer.ended[stream.name] = subscription.numbering }
        dropIfUnused(stream)
    }

    /// What one stream of a downlink carries: the relay's SSRC and the payload type per kind,
    /// as offered, and the highest simulcast layer wanted.
    public struct SubscriptionSetup: Sendable, Equatable {
        /// The stream received.
        public var stream: String
        /// The audio track (nil: no audio of this stream).
        public var audio: PeerSetup.Track?
        /// The video track (nil: no video of this stream).
        public var video: PeerSetup.Track?
        /// The highest layer rank wanted (nil: no cap).
        public var maxLayerRank: Int?

        /// Creates a value.
        public init(stream: String, audio: PeerSetup.Track?, video: PeerSetup.Track?, maxLayerRank: Int? = nil) {
            self.stream = stream
            self.audio = audio
            self.video = video
            self.maxLayerRank = maxLayerRank
        }
    }

    /// Sets what subscriber `id` (a downlink) receives: subscriptions no longer listed end at
    /// once, new ones start (a keyframe is asked for when the peer is connected), and the
    /// ones kept continue without a gap. A subscription whose tracks changed starts again.
    /// False when there is no such subscriber.
    @discardableResult
    public func setSubscriptions(peer id: String, _ wanted: [SubscriptionSetup], now: ContinuousClock.Instant,
                                 out: OutputQueue) -> Bool {
        guard let peer = peers[id], peer.setup.role == .subscriber else { return false }
        let byStream = Dictionary(wanted.map { ($0.stream, $0) }, uniquingKeysWith: { a, _ in a })
        for subscription in peer.subscriptions {
            let want = byStream[subscription.stream.name]
            if want == nil || want?.audio != subscription.audio || want?.video != subscription.video {
                unsubscribe(subscription, keep: true)
            }
        }
        for want in wanted {
            if let kept = peer.subscriptions.first(where: { $0.stream.name == want.stream }) {
                kept.maxLayerRank = want.maxLayerRank.map { max(0, $0) } ?? Int.max
                continue
            }
            let subscription = subscribe(peer, to: want.stream, audio: want.audio, video: want.video)
            if let earlier = peer.ended.removeValue(forKey: want.stream), earlier.audioSSRC == want.audio?.ssrc,
               earlier.videoSSRC == want.video?.ssrc {
                subscription.resume(earlier, now: now)
            }
            subscription.maxLayerRank = want.maxLayerRank.map { max(0, $0) } ?? Int.max
            if peer.connectedAt != nil && want.video != nil {
                requestKeyframe(subscription.stream, layer: subscription.wantedLayer, now: now, out: out)
            }
        }
        return true
    }

    /// The streams subscriber `id` receives, by name (empty when there is no such subscriber).
    public func subscriptions(peer id: String) -> [String] {
        peers[id]?.subscriptions.map(\.stream.name) ?? []
    }

    /// An ICE restart of peer `id` (RFC 8445 §9): new credentials on both sides, the same
    /// DTLS session, SRTP keys and numbering. Media keeps going to the nominated address until
    /// a check with the new credentials nominates one. False when there is no such peer.
    @discardableResult
    public func restartICE(peer id: String, local: ICECredentials, remote: ICECredentials) -> Bool {
        guard let peer = peers[id] else { return false }
        if peersByUfrag[peer.ice.local.ufrag] === peer { peersByUfrag.removeValue(forKey: peer.ice.local.ufrag) }
        peer.ice = ICELiteAgent(local: local, remote: remote, consentSince: peer.ice.lastCheck)
        peersByUfrag[local.ufrag] = peer
        counters.iceRestarts &+= 1
        return true
    }

    /// Caps the simulcast layer a subscriber receives by rank (0 = lowest: a thumbnail; nil
    /// = the highest that fits its estimate): of its stream `stream`, or of its first one (a
    /// WHEP peer has one). False when there is no such subscriber or stream.
    @discardableResult
    public func setMaxLayer(peer id: String, stream: String? = nil, rank: Int?) -> Bool {
        guard let subscription = subscription(peer: id, stream: stream) else { return false }
        subscription.maxLayerRank = rank.map { max(0, $0) } ?? Int.max
        return true
    }

    func subscription(peer id: String, stream: String?) -> Subscription? {
        guard let peer = peers[id], peer.setup.role == .subscriber else { return nil }
        guard let stream else { return peer.subscriptions.first }
        return peer.subscriptions.first { $0.stream.name == stream }
    }

    /// One subscriber's video as the relay forwards it.
    public struct SubscriberVideo: Sendable, Equatable {
        /// The rank of the layer forwarded (0 = lowest), -1 when none is (not started or paused).
        public var layerRank: Int
        /// The rank of the layer wanted (the switch waits for its keyframe), -1 to pause.
        public var targetRank: Int
        /// The layer's rid (empty without simulcast).
        public var rid: String
        /// The picture size of the forwarded layer, from its last keyframe (0 before one).
        public var width: Int
        public var height: Int
        /// What the subscriber's link is believed to carry in bit/s: the smaller of its REMB and
        /// the relay's estimate from its transport-wide feedback; nil when there is neither.
        public var estimate: Int?
        /// Transport-wide feedback messages the relay has read from it.
        public var transportFeedbacks: Int
        /// Layer switches made.
        public var switches: Int
        /// Layers the publisher sends.
        public var layers: Int
        /// Their measured bit rates (payload, bit/s), lowest layer first.
        public var layerBitrates: [Int]
        /// The highest rank the subscriber asked for, nil for no cap.
        public var maxRank: Int?
    }

    /// The video state of subscriber `id` (of its stream `stream`, or its first), nil when
    /// there is no such subscriber.
    public func subscriberVideo(peer id: String, stream name: String? = nil) -> SubscriberVideo? {
        guard let subscription = subscription(peer: id, stream: name) else { return nil }
        let peer = subscription.peer, stream = subscription.stream
        let current = subscription.layer >= 0 && subscription.layer < stream.layers.count ? stream.layers[subscription.layer] : nil
        return SubscriberVideo(layerRank: stream.rank(of: subscription.layer), targetRank: stream.rank(of: subscription.targetLayer),
                               rid: current?.rid ?? "", width: current?.width ?? 0, height: current?.height ?? 0,
                               estimate: peer.linkEstimate, transportFeedbacks: peer.bandwidth?.feedbacks ?? 0,
                               switches: subscription.layerSwitches, layers: stream.layers.count,
                               layerBitrates: stream.ranked.map { stream.layers[$0].bitrate },
                               maxRank: subscription.maxLayerRank == Int.max ? nil : subscription.maxLayerRank)
    }
}

extension MediaRouter {
    /// Entries in the router's tables (peers by id, ufrag and address; streams; undrained
    /// events): all zero again once every peer is gone and events are drained.
    var tableSizes: [String: Int] {
        ["peers": peers.count, "ufrags": peersByUfrag.count, "addresses": peersByAddress.count, "streams": streams.count,
         "events": events.count]
    }
}
