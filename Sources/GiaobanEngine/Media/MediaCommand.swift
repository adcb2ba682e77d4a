public import GiaobanCrypto
public import GiaobanICE

/// What the control plane asks of the media plane. The media thread executes commands one at
/// a time, in the order they were sent, between read batches (`MediaRouter.apply`). A command
/// that changes several things (a downlink's answer, a mix starting) does so in one step:
/// no datagram is handled half-way through it.
public enum MediaCommand: Sendable {
    /// Adds a peer negotiated by the control plane (a WHIP publisher, a WHEP subscriber);
    /// fails with `.dtls` when its DTLS session cannot be created.
    case addPeer(PeerSetup)
    /// Removes a peer (a DELETE of its session, a participant leaving), sending a DTLS
    /// close_notify; `reason` goes into the `.removed` event.
    case removePeer(id: String, reason: String)
    /// Ends every peer as the server stops: an RTCP BYE (RFC 3550 §6.6) for each stream a
    /// receiver gets, then the DTLS close_notify, so clients see the end at once rather than
    /// after their ICE timeout.
    case removeAllPeers(reason: String)
    /// A chair's mute (or unmute) of `stream`'s audio at the relay; `.noStream` when there is no such stream.
    case setAudioMuted(stream: String, muted: Bool)
    /// The loudest-K rule: for each stream, whether its audio is held back.
    case setAudioGates([String: Bool])
    /// The last-N rule: for each stream, whether its video is held back (released video
    /// resumes at a keyframe, asked for at once); `.noStream` names a stream that is not there.
    case setVideoGates([String: Bool])
    /// Caps the simulcast layer subscriber `peer` receives (0 = lowest, nil = no cap): of its
    /// stream `stream`, or of its first one; `.noPeer` when there is no such subscription.
    case setMaxLayer(peer: String, stream: String?, rank: Int?)
    /// Restarts ICE of a peer that keeps its DTLS session (RFC 8445 §9); `.noPeer` when it is
    /// gone, `.fingerprintChanged` when `fingerprint` is not the one it connected with.
    case restartICE(peer: String, local: ICECredentials, remote: ICECredentials, fingerprint: CertificateFingerprint)
    /// Gives each peer of `subscriptions` the subscriptions it reads (see `LatestSubscriptions`).
    case setSubscriptions(LatestSubscriptions)
    /// A downlink's answer in one step: creates the peer (`create`) or checks that it still
    /// exists, restarts its ICE (`restart`), then sets its subscriptions. Fails with `.dtls`
    /// or `.noPeer`.
    case answerDownlink(setup: PeerSetup, create: Bool, restart: Bool, subscriptions: LatestSubscriptions)
    /// Starts a mix: declares the local stream `stream` with `tracks` (receivers' PLI/FIR call
    /// `keyframeRequested`) and copies the audio and video of `sources` to the sinks.
    case startMix(stream: String, tracks: Negotiation.PublishedTracks, keyframeRequested: @Sendable () -> Void,
                  sources: [String], audio: any AudioSink, video: any VideoSink)
    /// Stops a mix: no more copies to its sinks from any stream, and the local stream `stream` is gone.
    case stopMix(stream: String, audio: any AudioSink, video: any VideoSink)
    /// Copies the audio of each of `streams` to `audio` and its video (the highest layer) to
    /// `video`, beside the sinks already there (a mix and a recorder both); each sink once.
    case addSinks(streams: [String], audio: (any AudioSink)?, video: (any VideoSink)?)
    /// Stops the copies to `audio` and `video` (by identity) from every stream.
    case removeSinks(audio: (any AudioSink)?, video: (any VideoSink)?)
    /// Creates stream group `id` (a meeting room) or changes its settings: its active speaker,
    /// the loudest-K audio and last-N video rules, run on the media thread's timer.
    case setGroup(id: String, settings: StreamGroup.Settings)
    /// Sets group `id`'s member streams, in joining order; members that leave have their gates
    /// released. `.noGroup` when there is no such group.
    case setGroupMembers(id: String, streams: [String])
    /// Removes group `id` and releases its members' gates.
    case removeGroup(id: String)
    /// Where keyframe requests for `stream`'s local publisher go (a trunk from a parent relay
    /// asks its upstream with a PLI, on the connection that carries the layer index given);
    /// `.noStream` when the stream has no local publisher.
    case setUpstream(stream: String, keyframeRequested: @Sendable (_ layer: Int) -> Void)

    /// Subscriptions read when the command runs on the media thread rather than when it is
    /// sent: the control plane's latest plan at that moment, so that of two commands sent at
    /// once an older plan never undoes a newer one.
    public struct LatestSubscriptions: Sendable {
        /// One peer's plan.
        public struct Entry: Sendable {
            /// The subscriber peer.
            public var peer: String
            /// What it should receive.
            public var subscriptions: [MediaRouter.SubscriptionSetup]

            /// Creates a value.
            public init(peer: String, subscriptions: [MediaRouter.SubscriptionSetup]) {
                self.peer = peer
                self.subscriptions = subscriptions
            }
        }

        let read: @Sendable () -> [Entry]

        /// A plan that `read` returns on the media thread (it must not block).
        public init(_ read: @escaping @Sendable () -> [Entry]) { self.read = read }
    }
}

/// Why a `MediaCommand` did not do what it asked.
public enum MediaFailure: Error, Sendable, CustomStringConvertible {
    /// There is no such peer (it was removed: closed, timed out, replaced).
    case noPeer(String)
    /// There is no such stream.
    case noStream(String)
    /// The peer's DTLS session could not be created.
    case dtls(DTLSError)
    /// An ICE restart named another DTLS fingerprint than the one the peer connected with.
    case fingerprintChanged(peer: String)
    /// There is no such stream group.
    case noGroup(String)

    /// The operator-facing text (a DTLS failure's own).
    public var description: String {
        switch self {
        case .noPeer(let peer): "no peer '\(peer)'"
        case .noStream(let stream): "no stream '\(stream)'"
        case .dtls(let error): error.description
        case .fingerprintChanged(let peer): "peer '\(peer)' connected with another DTLS fingerprint"
        case .noGroup(let group): "no stream group '\(group)'"
        }
    }
}

/// A question the control plane asks the media plane, with its typed answer; answered on
/// the media thread after every command sent before it (`MediaRouter.answer`).
public struct MediaQuery<Answer: Sendable>: Sendable {
    let answer: @Sendable (MediaRouter) -> Answer
}

extension MediaQuery where Answer == Bool {
    /// True when a peer with `id` exists.
    public static func hasPeer(_ id: String) -> Self { Self { $0.hasPeer(id: id) } }
}

extension MediaQuery where Answer == Negotiation.PublishedTracks? {
    /// The codecs the publisher of `stream` negotiated (or a local stream's tracks); nil when nobody publishes it.
    public static func publishedTracks(stream: String) -> Self { Self { $0.publishedTracks(stream: stream) } }
}

extension MediaQuery where Answer == [Negotiation.PublishedTracks?] {
    /// `publishedTracks(stream:)` of each of `streams`, read in one step.
    public static func publishedTracks(streams: [String]) -> Self {
        Self { router in streams.map { router.publishedTracks(stream: $0) } }
    }
}

extension MediaQuery where Answer == [Int]? {
    /// `MediaRouter.rankedLayerBitrates(stream:)`: what each layer of `stream` carries, lowest first.
    public static func rankedLayerBitrates(stream: String) -> Self { Self { $0.rankedLayerBitrates(stream: stream) } }
}

extension MediaQuery where Answer == MediaRouter.TrunkDemand {
    /// `MediaRouter.trunkDemand(stream:)`.
    public static func trunkDemand(stream: String) -> Self { Self { $0.trunkDemand(stream: stream) } }
}

extension MediaQuery where Answer == Int? {
    /// `MediaRouter.watchersBitrate(stream:)`: what `stream`'s watchers need at most.
    public static func watchersBitrate(stream: String) -> Self { Self { $0.watchersBitrate(stream: stream) } }
}

extension MediaQuery where Answer == [MediaRouter.UpstreamQuality] {
    /// Every stream with a connected publisher: its upstream loss and jitter, by name.
    public static var upstreamQuality: Self { Self { $0.upstreamQuality() } }
}

extension MediaQuery where Answer == [MediaRouter.AudioActivity] {
    /// Every stream with a publisher: its audio level, mute and gate, by name.
    public static var audioActivity: Self { Self { $0.audioActivity() } }
}

extension MediaQuery where Answer == [String] {
    /// Streams whose video the last-N rule holds back, by name.
    public static var videoGatedStreams: Self { Self { $0.videoGatedStreams() } }
    /// The streams subscriber `peer` receives, by name.
    public static func subscriptions(peer: String) -> Self { Self { $0.subscriptions(peer: peer) } }
}

extension MediaQuery where Answer == (members: [String], speaker: String?)? {
    /// Stream group `id`'s members (in joining order) and its active speaker; nil when there is no such group.
    public static func group(_ id: String) -> Self { Self { $0.group(id: id) } }
}

extension MediaQuery where Answer == MediaRouter.SubscriberVideo? {
    /// How subscriber `peer` receives the video of `stream` (of its first stream when nil).
    public static func subscriberVideo(peer: String, stream: String? = nil) -> Self {
        Self { $0.subscriberVideo(peer: peer, stream: stream) }
    }
}

extension MediaQuery where Answer == MediaCounters {
    /// The router's counters now (the server's snapshot lags by up to 100 ms).
    public static var counters: Self { Self { $0.counters } }
}

extension MediaQuery where Answer == Int {
    /// The number of peers.
    public static var peerCount: Self { Self { $0.peerCount } }
}
