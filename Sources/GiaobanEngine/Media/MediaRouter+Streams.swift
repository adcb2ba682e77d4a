/// Streams as the control plane sees them: the chair's mute, the loudest-K and last-N gates,
/// audio levels and upstream quality, copies to sinks (a mix, a recorder), and the relay's own
/// (local) streams.
extension MediaRouter {
    /// True when a publisher exists for `stream`.
    public func hasPublisher(stream: String) -> Bool { streams[stream]?.publisher != nil }

    /// Holds back (or releases) the audio of `stream`'s publisher for every subscriber: a
    /// mute at the relay, which the muted client cannot undo. False when there is no such stream.
    @discardableResult
    public func setAudioMuted(stream: String, _ muted: Bool) -> Bool {
        guard let relay = streams[stream] else { return false }
        relay.policy.muted = muted
        return true
    }

    /// Holds back (or releases) `stream`'s audio because the room forwards only its loudest
    /// speakers; separate from a chair's mute, which it neither sets nor clears.
    @discardableResult
    public func setAudioGated(stream: String, _ gated: Bool) -> Bool {
        guard let relay = streams[stream] else { return false }
        relay.policy.audioGated = gated
        return true
    }

    /// Holds back (or lets through) `stream`'s video for every subscriber because the room
    /// forwards only its last-N speakers' video. Held back, subscribers stop at once; let
    /// through, each resumes at the next keyframe (requested now), with no gap in its numbering.
    /// False when there is no such stream.
    @discardableResult
    public func setVideoGated(stream: String, _ gated: Bool, now: ContinuousClock.Instant, out: OutputQueue) -> Bool {
        guard let relay = streams[stream] else { return false }
        guard relay.policy.videoGated != gated else { return true }
        relay.policy.videoGated = gated
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
    public func videoGatedStreams() -> [String] { streams.values.filter(\.policy.videoGated).map(\.name).sorted() }

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

    /// What `stream`'s video watchers say they take at most, in bit/s: the highest REMB among
    /// its subscribers; nil when one of them sends none (it takes whatever comes) or nobody
    /// watches. A trunk asks its parent for no more than this (REMB). The relay's own estimate
    /// from transport-wide feedback is left out on purpose: it follows the traffic sent, and a
    /// trunk capped by it would never pull a higher layer again.
    public func watchersBitrate(stream name: String) -> Int? {
        guard let stream = streams[name], !stream.subscribers.isEmpty else { return nil }
        var highest = 0
        for subscription in stream.subscribers where subscription.video != nil {
            guard let remb = subscription.peer.estimate else { return nil }
            highest = max(highest, remb)
        }
        return highest > 0 ? highest : nil
    }

    /// What each video layer of `stream`'s publisher carries now (bit/s, 0 before it is
    /// measured), lowest layer first; nil when nobody publishes video on it. A WHEP answer
    /// gives it to a child relay, which pulls a layer only when a watcher there can take it.
    public func rankedLayerBitrates(stream name: String) -> [Int]? {
        guard let stream = streams[name], stream.publisher?.setup.video != nil else { return nil }
        return stream.ranked.map { stream.layers[$0].bitrate }
    }

    /// What a trunk feeding `stream` needs to know: whether anyone here watches it, the
    /// most its watchers take (`watchersBitrate`), and each layer's bit rate here by index.
    public struct TrunkDemand: Sendable, Equatable {
        /// True when the stream has a subscriber here.
        public var watched: Bool
        /// The highest REMB among the watchers; nil when one takes whatever comes.
        public var cap: Int?
        /// Each layer's measured bit rate, by layer index (0 before it is measured).
        public var layerBitrates: [Int]

        /// A demand.
        public init(watched: Bool, cap: Int?, layerBitrates: [Int]) {
            (self.watched, self.cap, self.layerBitrates) = (watched, cap, layerBitrates)
        }
    }

    /// `TrunkDemand` of `stream`.
    public func trunkDemand(stream name: String) -> TrunkDemand {
        guard let stream = streams[name] else { return TrunkDemand(watched: false, cap: nil, layerBitrates: []) }
        return TrunkDemand(watched: !stream.subscribers.isEmpty, cap: watchersBitrate(stream: name),
                           layerBitrates: stream.layers.map(\.bitrate))
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
                          muted: $0.policy.muted, gated: $0.policy.audioGated, held: $0.audioHeld)
        }.sorted { $0.stream < $1.stream }
    }

    /// The codecs the publisher of `stream` negotiated (or the relay's own tracks of a local
    /// stream), nil when nobody publishes it.
    public func publishedTracks(stream: String) -> Negotiation.PublishedTracks? {
        if let local = streams[stream]?.localTracks { return local }
        guard let publisher = streams[stream]?.publisher else { return nil }
        return Negotiation.PublishedTracks(audio: publisher.setup.audio, video: publisher.setup.video)
    }

    /// Sends a copy of `stream`'s published audio to `audio` and of its video (the highest
    /// layer) to `video`, beside the stream's other sinks; a sink already attached stays once.
    public func addSinks(stream: String, audio: (any AudioSink)?, video: (any VideoSink)?) {
        let relay = relayStream(stream)
        if let audio, !relay.audioSinks.contains(where: { $0 === audio }) { relay.audioSinks.append(audio) }
        if let video, !relay.videoSinks.contains(where: { $0 === video }) { relay.videoSinks.append(video) }
        streams[stream] = relay
        dropIfUnused(relay)
    }

    /// Stops the copies to `audio` and `video` (by identity) from every stream; other sinks keep theirs.
    public func removeSinks(audio: (any AudioSink)?, video: (any VideoSink)?) {
        for relay in Array(streams.values) {
            if let audio { relay.audioSinks.removeAll { $0 === audio } }
            if let video { relay.videoSinks.removeAll { $0 === video } }
            dropIfUnused(relay)
        }
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
        if tracks != nil, let keyframeRequested {
            relay.keyframeRequested = { @Sendable (_: Int) in keyframeRequested() }
        } else {
            relay.keyframeRequested = nil
        }
        streams[stream] = relay
        dropIfUnused(relay)
    }

    /// Forgets a stream nobody publishes, watches, mixes or produces.
    func dropIfUnused(_ stream: RelayStream) {
        if stream.publisher == nil && stream.subscribers.isEmpty && stream.audioSinks.isEmpty && stream.localTracks == nil
            && stream.videoSinks.isEmpty {
            streams.removeValue(forKey: stream.name)
        }
    }
}
